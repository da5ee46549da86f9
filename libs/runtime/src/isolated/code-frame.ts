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

const LINE_TERMINATOR = /\r\n|[\n\r\u2028\u2029]/;
const CONTEXT_LINES = 2;
const MAX_SHOWN_CHARS = 120;

/** Splits source into its lines, up to and including `last` (1-based). */
function linesUpTo(source: string, last: number): string[] {
  const lines: string[] = [];
  let rest = source;
  while (lines.length < last) {
    const end = LINE_TERMINATOR.exec(rest);
    if (!end) {
      lines.push(rest);
      break;
    }
    lines.push(rest.slice(0, end.index));
    rest = rest.slice(end.index + end[0].length);
  }
  return lines;
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
  const lines = linesUpTo(source, line);
  const text = lines[line - 1];
  return lines.length === line && text !== undefined && (column === undefined || column <= text.length + 1);
}

/** The frame of `line` (1-based) with a caret under `column` (1-based) when given; undefined for a line the source does not have. */
export function codeFrame(source: string, line: number, column?: number): string | undefined {
  const lines = linesUpTo(source, line + CONTEXT_LINES);
  if (line < 1 || line > lines.length) return undefined;
  const first = Math.max(1, line - CONTEXT_LINES);
  const last = Math.min(lines.length, line + CONTEXT_LINES);
  const gutter = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const text = (lines[n - 1] as string).replace(/\t/g, ' ');
    const { shown, at } = window(text, n === line ? column : undefined);
    const number = String(n).padStart(gutter);
    out.push(`${n === line ? '>' : ' '} ${number} | ${shown}`.trimEnd());
    if (n === line && at !== undefined) out.push(`  ${' '.repeat(gutter)} | ${' '.repeat(at)}^`);
  }
  return out.join('\n');
}
