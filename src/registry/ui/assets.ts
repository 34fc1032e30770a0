import { createHash } from 'node:crypto';

/**
 * The UI's only assets, served by the registry itself (no CDN: the UI works air-gapped). The
 * script does one thing, copy a command to the clipboard; the pages work without it.
 */

const STYLE = `
:root { --fg: #1d2330; --muted: #5d6676; --line: #d9dee7; --bg: #f6f8fb; --card: #fff;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --info: #0969da; --grey: #6e7781; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 16px; padding: 10px 24px;
  background: #1d2330; color: #fff; }
header a { color: #fff; text-decoration: none; }
header .brand { font-weight: 700; letter-spacing: .02em; }
header .who { margin-left: auto; display: flex; gap: 10px; align-items: center; }
header form { margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 20px; margin: 4px 0 16px; word-break: break-all; }
h2 { font-size: 16px; margin: 24px 0 8px; }
a { color: var(--info); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin: 12px 0; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f6; font-weight: 600; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  color: #fff; white-space: nowrap; }
.badge.verified { background: var(--ok); }
.badge.unsigned, .badge.skipped, .badge.no-policy { background: var(--grey); }
.badge.untrusted { background: var(--warn); }
.badge.invalid, .badge.expired, .badge.unreadable, .badge.error { background: var(--bad); }
.badge.denied { background: var(--bad); }
.badge.type { background: #8250df; }
ul.tree { list-style: none; padding-left: 18px; margin: 4px 0; border-left: 2px solid var(--line); }
ul.tree.root { border-left: 0; padding-left: 0; }
ul.tree li { margin: 6px 0; }
.sig { margin: 4px 0 0 0; padding: 6px 10px; background: #f3f5f9; border-radius: 6px; }
dl.facts { margin: 0; }
.sig dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 4px 0 0; }
.sig dt { color: var(--muted); }
.sig dd { margin: 0; word-break: break-word; }
.cmd { display: flex; gap: 8px; align-items: center; margin: 6px 0; }
.cmd code { flex: 1; padding: 6px 8px; background: #0d1117; color: #e6edf3; border-radius: 6px; overflow-x: auto; white-space: pre; }
button { font: inherit; padding: 4px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; cursor: pointer; }
form.search { display: flex; gap: 8px; margin: 0 0 12px; }
form.search input { flex: 1; }
input { font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; }
form.signin { max-width: 340px; display: grid; gap: 10px; }
.error { color: var(--bad); font-weight: 600; }
.reason { color: var(--bad); }
`;

const SCRIPT = `
document.addEventListener('click', function (event) {
  var button = event.target.closest('button[data-copy]');
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.getAttribute('data-copy')).then(function () {
    button.textContent = 'Copied';
  });
});
`;

/** One asset: its bytes, type and a strong ETag (its digest). */
export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

function asset(text: string, contentType: string): Asset {
  const body = Buffer.from(text.trim() + '\n');
  return {
    body,
    contentType,
    etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`,
  };
}

/** The assets by file name under `/ui/static/`. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['style.css', asset(STYLE, 'text/css; charset=utf-8')],
  ['ui.js', asset(SCRIPT, 'text/javascript; charset=utf-8')],
]);
