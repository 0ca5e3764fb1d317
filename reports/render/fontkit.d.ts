/** The part of fontkit (pdfkit's font engine; it ships no types) the PDF renderer uses. */
declare module 'fontkit' {
  /** A parsed font, opaque here: pdfkit lays text out with it and embeds it. */
  export interface Font {
    layout(text: string): unknown;
  }
  /** Parses a font file; from a collection (.ttc), the font named `postscriptName`. */
  export function create(buffer: Uint8Array, postscriptName?: string): Font;
}
