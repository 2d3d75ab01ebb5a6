// Draws one piece of screen text: plain text as is, easy Japanese's {漢字|かんじ} marks as <ruby>.
import { rubyParts } from './i18n.js';

export function Phrase({ text }: { text: string }) {
  const parts = rubyParts(text);
  if (!parts.some((p) => p.reading)) return <>{text}</>;
  return (
    <>
      {parts.map((p, i) =>
        p.reading ? (
          <ruby key={i}>
            {p.base}
            <rt>{p.reading}</rt>
          </ruby>
        ) : (
          p.base
        ),
      )}
    </>
  );
}
