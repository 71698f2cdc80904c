import { AppError } from '@evpki/service';

const PRINTABLE = /^[\x20-\x7e\r\n]*$/;

/** A request body as JSON: the CA reads each body once, then each operation decodes its fields (jsonFields). */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new AppError('malformed', 'body is not JSON');
  }
}

export type JsonFields = {
  str(key: string, max: number): string;
  optStr(key: string, max: number): string | undefined;
  optNum(key: string): number | undefined;
  /** A nested object's fields (errors name it `outer.field`); undefined when absent. */
  optFields(key: string): JsonFields | undefined;
};

/** A JSON object from a trusted internal caller, with typed field readers that name the field. */
export function jsonFields(j: unknown, path = ''): JsonFields {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new AppError('malformed', path ? `${path.slice(0, -1)} must be a JSON object` : 'body must be a JSON object');
  const obj = j as Record<string, unknown>;
  const optStr = (k: string, max: number): string | undefined => {
    const v = obj[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > max || !PRINTABLE.test(v)) throw new AppError('malformed', `${path}${k} must be a string of at most ${max} characters`);
    return v;
  };
  return {
    optStr,
    optNum: (k) => {
      const v = obj[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new AppError('malformed', `${path}${k} must be a number`);
      return v;
    },
    str: (k, max) => {
      const v = optStr(k, max);
      if (v === undefined) throw new AppError('malformed', `${path}${k} is required`);
      return v;
    },
    optFields: (k) => (obj[k] === undefined ? undefined : jsonFields(obj[k], `${path}${k}.`)),
  };
}
