/**
 * JSON for `--json`: one document, pretty-printed with two spaces and ending in a newline, so
 * that `jq` and a human both read it. Keys are camelCase, as in the library's typed results.
 */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
