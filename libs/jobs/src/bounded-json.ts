/**
 * JSON text of a value that job code chose, written only while it stays under a byte limit.
 * `JSON.stringify` cannot be stopped: a value that is a few bytes on the wire (a sparse array,
 * a typed array, a string of control characters) can be hundreds of megabytes as JSON, and the
 * node would write all of it on its main thread before looking at the size. This writer gives
 * the same text as `JSON.stringify` for plain data and gives up as soon as the limit is passed.
 */

class TooLarge extends Error {}

export type BoundedJson =
  /** `text` is what `JSON.stringify` gives (undefined for a value JSON leaves out). */
  { readonly fits: true; readonly text: string | undefined } | { readonly fits: false };

/**
 * `JSON.stringify(value)` if its text is at most `maxBytes` long (UTF-16 units); `replace` is
 * applied to every value first (a replacer without the key). Throws as it does for cycles and BigInts.
 */
export function boundedJson(value: unknown, maxBytes: number, replace?: (value: unknown) => unknown): BoundedJson {
  const parts: string[] = [];
  let length = 0;
  const onPath = new Set<object>();
  const emit = (text: string) => {
    length += text.length;
    if (length > maxBytes) throw new TooLarge();
    parts.push(text);
  };
  const write = (given: unknown, inArray: boolean): boolean => {
    let v = replace ? replace(given) : given;
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      v = (v as { toJSON(): unknown }).toJSON();
    }
    switch (typeof v) {
      case 'string':
        // Escaping takes at most 6 characters a unit: check before doing it.
        if (length + v.length + 2 > maxBytes) throw new TooLarge();
        emit(JSON.stringify(v));
        return true;
      case 'number':
        emit(Number.isFinite(v) ? String(v) : 'null');
        return true;
      case 'boolean':
        emit(String(v));
        return true;
      case 'bigint':
        throw new TypeError('Do not know how to serialize a BigInt');
      case 'undefined':
      case 'function':
      case 'symbol':
        if (inArray) emit('null');
        return inArray;
    }
    if (v === null) {
      emit('null');
      return true;
    }
    const object = v as object;
    if (onPath.has(object)) throw new TypeError('Converting circular structure to JSON');
    onPath.add(object);
    if (Array.isArray(object)) {
      emit('[');
      for (let i = 0; i < object.length; i++) {
        if (i > 0) emit(',');
        write(object[i], true);
      }
      emit(']');
    } else if (ArrayBuffer.isView(object) && !(object instanceof DataView)) {
      // As JSON.stringify writes it: {"0":…,"1":…}, index by index (no list of keys made first).
      const elements = object as unknown as ArrayLike<number | bigint>;
      emit('{');
      for (let i = 0; i < elements.length; i++) {
        emit(`${i > 0 ? ',' : ''}"${i}":`);
        write(elements[i], false);
      }
      emit('}');
    } else {
      emit('{');
      let first = true;
      for (const key of Object.keys(object)) {
        const mark = parts.length;
        const before = length;
        emit(`${first ? '' : ','}${JSON.stringify(key)}:`);
        if (write((object as Record<string, unknown>)[key], false)) {
          first = false;
        } else {
          parts.length = mark;
          length = before;
        }
      }
      emit('}');
    }
    onPath.delete(object);
    return true;
  };
  try {
    if (!write(value, false)) return { fits: true, text: undefined };
  } catch (error) {
    if (error instanceof TooLarge) return { fits: false };
    throw error;
  }
  return { fits: true, text: parts.join('') };
}

/** A string cut to `max` units, with a marker saying how much was cut. */
export function truncated(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters cut]`;
}
