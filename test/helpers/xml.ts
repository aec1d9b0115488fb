/** A check of the SVG charts partkit writes, without an XML library. */

/** Well-formed XML: every tag closed in order, attributes quoted, no bare & or < in text. Returns the problem, or null. */
export function xmlProblem(text: string): string | null {
  const body = text.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let match: RegExpExecArray | null;
  let at = 0;
  while ((match = token.exec(body)) !== null) {
    at = token.lastIndex;
    const [, closing, name, , selfClosing, textPart] = match;
    if (textPart !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(textPart)) return `bare & in ${textPart.slice(0, 40)}`;
    } else if (closing) {
      if (stack.pop() !== name) return `</${name}> closes nothing open`;
    } else if (!selfClosing) stack.push(name!);
  }
  if (at !== body.length) return `cannot read from ${body.slice(at, at + 40)}`;
  return stack.length === 0 ? null : `<${stack.join('>, <')}> never closed`;
}
