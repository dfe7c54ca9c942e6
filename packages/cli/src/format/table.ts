import { pad, printable, type Styles, styles, truncate, visibleWidth } from './text.js';

/** A table column: its header and how its cells line up. */
export interface Column {
  readonly header: string;
  /** Numbers line up on the right. @default 'left' */
  readonly align?: 'left' | 'right';
}

/** Options for `formatTable`. */
export interface TableOptions {
  /** Bold headers (a terminal without NO_COLOR). @default false */
  readonly color?: boolean;
  /**
   * Cut every line to this many columns (the terminal's width), ending cut lines in `…`.
   * @default no limit
   */
  readonly width?: number;
  /** Spaces between columns. @default 2 */
  readonly gap?: number;
  /**
   * The cells are printable already and may carry ANSI styles (`top`'s coloured deltas): do not
   * escape their control characters. @default false
   */
  readonly styled?: boolean;
}

/**
 * Formats rows as an aligned table with a header line, one line per row, each ending in `\n`.
 * Cells are made printable (a tab or newline in a name becomes `\t`, `\n`) unless `styled`,
 * and ANSI styles in them take no room. The last column is not padded, so lines have no trailing spaces.
 *
 * @example
 * formatTable([{ header: 'FUNCTION' }, { header: 'QUEUED', align: 'right' }], [['resize', '3']]);
 * // 'FUNCTION  QUEUED\nresize         3\n'
 */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  options: TableOptions = {},
): string {
  const style: Styles = styles(options.color ?? false);
  const gap = ' '.repeat(options.gap ?? 2);
  const cells = rows.map((row) =>
    columns.map((_, i) => (options.styled ? (row[i] ?? '') : printable(row[i] ?? ''))),
  );
  const widths = columns.map((column, i) =>
    Math.max(visibleWidth(column.header), ...cells.map((row) => visibleWidth(row[i] ?? ''))),
  );
  const line = (row: readonly string[], header: boolean): string => {
    const parts = row.map((cell, i) => {
      const align = columns[i]?.align ?? 'left';
      const last = i === row.length - 1;
      // The last column is padded only when right-aligned, so no line ends in spaces.
      const text = last && align === 'left' ? cell : pad(cell, widths[i] ?? 0, align);
      return header ? style.bold(text) : text;
    });
    // An empty last cell would leave the gap and padding behind.
    const joined = parts.join(gap).replace(/ +$/, '');
    return options.width === undefined ? joined : truncate(joined, options.width);
  };
  let out = `${line(
    columns.map((column) => column.header),
    true,
  )}\n`;
  for (const row of cells) out += `${line(row, false)}\n`;
  return out;
}
