import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml, html, pathOf } from '../../../../src/registry/ui/html.js';

describe('UI html', () => {
  it('escapes every interpolated string, and only those', () => {
    const name = `<script>alert("x")</script>&'`;
    const page = html`<p title="${name}">
      ${name}${html`<b>${name}</b>`}${[name, 1]}${undefined}${false}
    </p>`;
    assert.equal(
      page.text.replace(/\s*\n\s*/g, ''),
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">' +
        '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;' +
        '<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</b>' +
        '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;1</p>',
    );
    assert.equal(escapeHtml('a&b'), 'a&amp;b');
  });

  it('encodes path segments but keeps slashes between them', () => {
    assert.equal(pathOf('acme/app'), 'acme/app');
    assert.equal(pathOf('a b/c?d'), 'a%20b/c%3Fd');
  });
});
