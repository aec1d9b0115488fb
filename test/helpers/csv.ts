/** Test-side reading of the CSV files archive export writes, independent of src/archive/csv.ts. */

export type Field = string | null;

/**
 * Reads CSV as COPY's csv format does (quote and escape both `"`, delimiter `,`): an unquoted
 * empty field is NULL, a quoted one is the empty string, and line breaks inside quotes are data.
 */
export function readCopyCsv(text: string): Field[][] {
  const records: Field[][] = [];
  let record: Field[] = [];
  let field = '';
  let quoted = false;
  let inQuotes = false;
  const endField = (): void => {
    record.push(!quoted && field === '' ? null : field);
    field = '';
    quoted = false;
  };
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    if (inQuotes) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (char === '"') {
        inQuotes = false;
      } else {
        field += char;
      }
    } else if (char === '"') {
      inQuotes = true;
      quoted = true;
    } else if (char === ',') {
      endField();
    } else if (char === '\n') {
      endField();
      records.push(record);
      record = [];
    } else {
      if (char === '\r') throw new Error('an unquoted CR would end the record for COPY');
      field += char;
    }
  }
  if (inQuotes) throw new Error('unterminated quoted field');
  if (field !== '' || quoted || record.length > 0) {
    endField();
    records.push(record);
  }
  return records;
}
