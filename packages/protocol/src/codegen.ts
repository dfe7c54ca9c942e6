/**
 * Whether this process may compile code from strings. Node refuses with
 * `--disallow-code-generation-from-strings`; the codec then falls back to its generic,
 * table-walking functions.
 */
export function canGenerateCode(): boolean {
  try {
    return new Function('return true')() === true;
  } catch {
    return false;
  }
}

/**
 * Returns `name` after checking that it is a plain identifier, so that the names the packet
 * table puts into generated source can only ever be names.
 */
export function checkIdentifier<T extends string>(name: T): T {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not an identifier: ${name}`);
  return name;
}
