/** Runs a CLI entry in this process and returns its exit code with what it wrote to stdout. */
export async function captureStdout(fn: () => Promise<number>): Promise<{ code: number; stdout: string }> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string | Uint8Array) => (
    chunks.push(String(c)),
    true
  )) as typeof process.stdout.write;
  try {
    const code = await fn();
    return { code, stdout: chunks.join('') };
  } finally {
    process.stdout.write = write;
  }
}
