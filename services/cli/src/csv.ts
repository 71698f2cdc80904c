/**
 * RFC 4180 CSV, as operators' spreadsheets write it: fields separated by commas, records by CRLF or
 * LF, a field in double quotes may hold commas, line breaks and doubled quotes (""). Strict about
 * quotes, forgiving about the rest: a record with a quoting error is returned with `error` (and no
 * fields) and reading goes on at the next line, so one bad row does not hide the others.
 */
export interface CsvRecord {
  /** The line the record starts on (1: the file's first line). */
  readonly line: number;
  readonly fields: string[];
  /** Why the record could not be read (bad quoting); `fields` then holds only those read before the error. */
  readonly error?: string;
}

const QUOTE = 34; // "
const COMMA = 44; // ,
const LF = 10;
const CR = 13;

/** The records of `text` (without a BOM), empty lines left out. */
export function* csvRecords(text: string): Generator<CsvRecord> {
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const startLine = line;
    const startIndex = i;
    const fields: string[] = [];
    let error: string | undefined;
    let quotedAny = false;
    // One record: fields until a line break outside quotes, or the end.
    for (;;) {
      if (i < n && text.charCodeAt(i) === QUOTE) {
        quotedAny = true;
        let value = '';
        let j = i + 1;
        let closed = false;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) break;
          value += text.slice(j, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            j = q + 2;
            continue;
          }
          j = q + 1;
          closed = true;
          break;
        }
        if (!closed) {
          // Unterminated: the rest of the file would be one field. Report it and go on at the next line.
          error = 'a quoted field is not closed (a " is missing)';
          const nl = text.indexOf('\n', startIndex);
          i = nl < 0 ? n : nl + 1;
          line = startLine + 1;
          break;
        }
        for (let k = value.indexOf('\n'); k >= 0; k = value.indexOf('\n', k + 1)) line++;
        fields.push(value);
        i = j;
        const c = i < n ? text.charCodeAt(i) : -1;
        if (c === COMMA) {
          i++;
          continue;
        }
        if (c === -1) break;
        if (c === LF || (c === CR && text.charCodeAt(i + 1) === LF)) {
          i += c === CR ? 2 : 1;
          line++;
          break;
        }
        error = 'text after the closing quote of a quoted field (a quote inside a field must be doubled: "")';
        i = skipLine(text, i);
        line++;
        break;
      }
      // Unquoted: up to the next comma or line break; a quote in it is an error.
      let j = i;
      let c = -1;
      while (j < n) {
        c = text.charCodeAt(j);
        if (c === COMMA || c === LF || c === QUOTE) break;
        j++;
      }
      if (j < n && c === QUOTE) {
        error = 'a quote inside an unquoted field (quote the whole field and double the quote: "a""b")';
        i = skipLine(text, j);
        line++;
        break;
      }
      const end = (j >= n || c === LF) && j > i && text.charCodeAt(j - 1) === CR ? j - 1 : j;
      fields.push(text.slice(i, end));
      if (j >= n) {
        i = n;
        break;
      }
      i = j + 1;
      if (c === LF) {
        line++;
        break;
      }
    }
    if (error !== undefined) yield { line: startLine, fields, error };
    else if (!(fields.length === 1 && fields[0] === '' && !quotedAny)) yield { line: startLine, fields };
  }
}

/** Past the next line break (or to the end). */
function skipLine(text: string, from: number): number {
  const nl = text.indexOf('\n', from);
  return nl < 0 ? text.length : nl + 1;
}

/** One CSV field, quoted when it must be (RFC 4180); a leading = + @ is prefixed with ' against spreadsheet formulas. */
export function csvField(value: string | number): string {
  let v = String(value);
  if (typeof value === 'string' && /^[=+@\t\r]/.test(v)) v = `'${v}`;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export const csvLine = (fields: readonly (string | number)[]): string => fields.map(csvField).join(',') + '\r\n';
