/** Text helpers shared by the table, the progress bar and `top`: ANSI styles and widths. */

// CSI sequences (colours, cursor movement) and OSC sequences, which take no columns.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escape sequences is the point
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;

/** `text` without ANSI escape sequences. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** The number of terminal columns `text` takes: code points outside escape sequences. */
export function visibleWidth(text: string): number {
  let width = 0;
  for (const _ of stripAnsi(text)) width++;
  return width;
}

/**
 * Makes a name from the server printable on one line: control characters (a function name may
 * hold a tab or a newline) become escapes such as `\t`, `\n` or `\x1b`.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are what gets escaped
  return text.replace(/[\x00-\x1f\x7f]/g, (char) => {
    if (char === '\t') return '\\t';
    if (char === '\n') return '\\n';
    if (char === '\r') return '\\r';
    return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/**
 * Cuts `text` to at most `width` visible columns, ending in `…` when something was cut. Escape
 * sequences are kept (they take no room), and a style reset is appended after a cut so that a
 * colour does not run on.
 */
export function truncate(text: string, width: number): string {
  if (visibleWidth(text) <= width) return text;
  if (width <= 0) return '';
  let out = '';
  let used = 0;
  let last = 0;
  const limit = width - 1; // room for the ellipsis
  for (const match of text.matchAll(ANSI)) {
    const plain = text.slice(last, match.index);
    for (const char of plain) {
      if (used >= limit) break;
      out += char;
      used++;
    }
    out += match[0];
    last = match.index + match[0].length;
  }
  for (const char of text.slice(last)) {
    if (used >= limit) break;
    out += char;
    used++;
  }
  return `${out}…${text.includes('\x1b[') ? RESET : ''}`;
}

/** Pads `text` to `width` visible columns, on the right (`left` alignment) or the left. */
export function pad(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const fill = ' '.repeat(Math.max(0, width - visibleWidth(text)));
  return align === 'left' ? text + fill : fill + text;
}

/** Resets every style. */
const RESET = '\x1b[0m';

/** SGR styles, applied only when `enabled` (a terminal without NO_COLOR). */
export interface Styles {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  inverse(text: string): string;
}

/** Styles that colour when `enabled` and return the text unchanged otherwise. */
export function styles(enabled: boolean): Styles {
  const sgr =
    (open: number, close: number) =>
    (text: string): string =>
      enabled && text !== '' ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  return {
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    inverse: sgr(7, 27),
  };
}
