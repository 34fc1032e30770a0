/**
 * HTML built safely: `html` is a tagged template whose interpolations are escaped unless they
 * are `Html` made by `html` itself, so that no string from a request, a manifest or a
 * certificate reaches a page unescaped.
 */

/** Markup that is safe to emit as is. */
export class Html {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

/** What may be interpolated: text (escaped), numbers, markup, lists of them, or nothing. */
export type Interpolation =
  string | number | Html | undefined | null | false | readonly Interpolation[];

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for an element's content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(value: Interpolation): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return (value as readonly Interpolation[]).map(render).join('');
  return escapeHtml(String(value as string | number));
}

/**
 * The tagged template.
 *
 * @example
 * html`<a href="/ui/repo/${name}">${name}</a>`
 */
export function html(strings: TemplateStringsArray, ...values: readonly Interpolation[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++)
    out += render(values[i] as Interpolation) + strings[i + 1]!;
  return new Html(out);
}

/** A path segment list as a URL path (each segment percent-encoded, `/` kept between them). */
export function pathOf(...segments: readonly string[]): string {
  return segments.map((s) => s.split('/').map(encodeURIComponent).join('/')).join('/');
}
