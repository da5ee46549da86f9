/**
 * A few lines of source around a position, the way compilers show an error:
 *
 *     2 | export default async (input) => {
 *   > 3 |   return input +;
 *       |                 ^
 *     4 | };
 *
 * Lines are split where JavaScript ends them; columns count UTF-16 code units, as V8's do. Long
 * lines (minified code) are cut to a window around the column.
 */

const CONTEXT_LINES = 2;
const MAX_SHOWN_CHARS = 120;
/**
 * Positions past this line get no frame: finding a line means scanning every line before it, and
 * the source is a tenant's (millions of empty lines would hold the caller's thread for seconds).
 */
export const MAX_FRAMED_LINE = 50_000;

/** The lines of source from `first` to `last` (1-based), scanning no further than `last`; `[]` past MAX_FRAMED_LINE. */
function linesBetween(source: string, first: number, last: number): { lines: string[]; reached: number } {
  if (last > MAX_FRAMED_LINE + CONTEXT_LINES) return { lines: [], reached: 0 };
  const terminator = /\r\n|[\n\r\u2028\u2029]/g;
  const lines: string[] = [];
  let start = 0;
  let line = 1;
  for (; line <= last; line++) {
    const end = terminator.exec(source);
    if (line >= first) lines.push(source.slice(start, end ? end.index : source.length));
    if (!end) break;
    start = end.index + end[0].length;
  }
  return { lines, reached: Math.min(line, last) };
}

/** The part of a line shown, and where in it the column falls (0-based), for a line too long to show whole. */
function window(text: string, column: number | undefined): { shown: string; at: number | undefined } {
  if (text.length <= MAX_SHOWN_CHARS) return { shown: text, at: column === undefined ? undefined : column - 1 };
  const centre = column === undefined ? 0 : column - 1;
  const start = Math.max(0, Math.min(centre - MAX_SHOWN_CHARS / 2, text.length - MAX_SHOWN_CHARS));
  const end = start + MAX_SHOWN_CHARS;
  const head = start > 0 ? '…' : '';
  const tail = end < text.length ? '…' : '';
  return {
    shown: `${head}${text.slice(start, end)}${tail}`,
    at: column === undefined ? undefined : centre - start + head.length,
  };
}

/** Whether the source has that line (and, when given, a column at most one past the line's end). */
export function isPositionIn(source: string, line: number, column: number | undefined): boolean {
  if (line < 1 || line > MAX_FRAMED_LINE) return false;
  const { lines, reached } = linesBetween(source, line, line);
  const text = lines[0];
  return reached === line && text !== undefined && (column === undefined || column <= text.length + 1);
}

/** The frame of `line` (1-based) with a caret under `column` (1-based) when given; undefined for a line the source does not have. */
export function codeFrame(source: string, line: number, column?: number): string | undefined {
  if (line < 1 || line > MAX_FRAMED_LINE) return undefined;
  const first = Math.max(1, line - CONTEXT_LINES);
  const { lines } = linesBetween(source, first, line + CONTEXT_LINES);
  if (first + lines.length - 1 < line) return undefined;
  const last = first + lines.length - 1;
  const gutter = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const text = (lines[n - first] as string).replace(/\t/g, ' ');
    const { shown, at } = window(text, n === line ? column : undefined);
    const number = String(n).padStart(gutter);
    out.push(`${n === line ? '>' : ' '} ${number} | ${shown}`.trimEnd());
    if (n === line && at !== undefined) out.push(`  ${' '.repeat(gutter)} | ${' '.repeat(at)}^`);
  }
  return out.join('\n');
}
