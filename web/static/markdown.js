// Markdown, rendered safely: marked turns a note's Markdown into HTML, and DOMPurify keeps only
// the elements of formatted text. Links go only to http, https and mailto addresses, open in a
// new tab, and carry no referrer; there are no images (reading a note never makes the browser
// fetch anything), no raw HTML, no scripts, no styles. Headings become bold paragraphs, so that a
// note never breaks the page's outline. Both libraries are vendored unmodified (web/vendor/).

import { Marked } from 'marked';
import DOMPurify from 'dompurify';

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    heading({ tokens }) {
      return `<p><strong>${this.parser.parseInline(tokens)}</strong></p>\n`;
    },
    // Raw HTML in the Markdown is shown as the text it is.
    html({ text }) {
      return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    },
  },
});

const purify = DOMPurify();
purify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
  if (node.tagName === 'INPUT') node.setAttribute('disabled', '');
});

const OPTIONS = {
  ALLOWED_TAGS: ['p', 'br', 'strong', 'em', 'del', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'a', 'hr',
    'table', 'thead', 'tbody', 'tr', 'th', 'td', 'input'],
  ALLOWED_ATTR: ['href', 'title', 'type', 'checked', 'disabled', 'start', 'align'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
  RETURN_DOM_FRAGMENT: true,
};

/** `text` (Markdown) as a fragment of safe, formatted DOM. */
export function renderMarkdown(text) {
  return purify.sanitize(marked.parse(text ?? ''), OPTIONS);
}
