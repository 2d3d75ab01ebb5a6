// A cancellable wait: the signal patterns and the gate's passage window are timed with it, so that a
// replaced pattern or a stopped gate leaves no timer behind.
export interface CancellableWait {
  /** Resolves true when the time ran out, false when cancelled. */
  done: Promise<boolean>;
  cancel(): void;
}

export function cancellableWait(ms: number): CancellableWait {
  let settle: (elapsed: boolean) => void = () => undefined;
  const done = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  const timer = setTimeout(() => settle(true), ms);
  return {
    done,
    cancel() {
      clearTimeout(timer);
      settle(false);
    },
  };
}
