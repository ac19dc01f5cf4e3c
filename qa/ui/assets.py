"""The page's look and behaviour: the theme, the stylesheet and the one script in the head."""

from __future__ import annotations

import gradio as gr

# System fonts: the page loads nothing from the internet.
THEME = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])

CSS = """
#qa-header h2 { margin: 0.2em 0 0; }
#qa-header p { margin: 0.1em 0 0.2em; opacity: 0.85; }
#qa-status { font-size: 0.85em; opacity: 0.85; }
a.qa-chip, #qa-chat a[href^="#qa-cite-"] {
  display: inline-block; padding: 0 0.45em; margin: 0 0.1em; border-radius: 0.8em;
  background: var(--color-accent-soft); color: var(--color-accent); font-size: 0.85em;
  text-decoration: none; font-weight: 600; cursor: pointer;
}
.qa-turn { margin-bottom: 0.8em; }
.qa-turn > summary { cursor: pointer; font-weight: 600; }
.qa-searched { font-size: 0.85em; opacity: 0.8; }
.qa-refused { font-weight: 600; }
.qa-sources { list-style: none; padding-left: 0; margin: 0; }
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 0.5em 0.7em; margin: 0.4em 0; }
.qa-source.qa-active { border-color: var(--color-accent); }
.qa-source.qa-active > .qa-passage { display: none; }  /* the open article shows it in place */
.qa-open { all: unset; cursor: pointer; font-weight: 600; color: var(--color-accent); }
.qa-meta { font-size: 0.8em; opacity: 0.8; margin: 0.2em 0; word-break: break-all; }
.qa-passage { margin: 0.3em 0; font-size: 0.9em; }
.qa-article-head { font-size: 0.8em; font-weight: 600; opacity: 0.8; margin-bottom: 0.3em;
  white-space: normal; }
.qa-article { margin-top: 0.5em; padding: 0.5em; max-height: 22em; overflow-y: auto;
  white-space: pre-wrap; font-size: 0.9em; border-top: 1px dashed var(--border-color-primary); }
mark.qa-quote { background: #ffe58a; color: #111; padding: 0 1px; }
"""

# One delegated listener: citation chips in the chat and source titles open the article view.
HEAD = """
<script>
(function () {
  function qaOpen(id) {
    var art = document.getElementById(id);
    if (!art) return;
    document.querySelectorAll('.qa-article').forEach(function (a) {
      if (a !== art) a.hidden = true;
    });
    document.querySelectorAll('.qa-source.qa-active').forEach(function (s) {
      s.classList.remove('qa-active');
    });
    var details = art.closest('details');
    if (details) details.open = true;
    art.hidden = false;
    var src = art.closest('.qa-source');
    if (src) src.classList.add('qa-active');
    var mark = art.querySelector('mark');
    (mark || art).scrollIntoView({block: 'center'});
  }
  document.addEventListener('click', function (ev) {
    var el = ev.target.closest && ev.target.closest('a[href^="#qa-cite-"], .qa-open');
    if (!el) return;
    ev.preventDefault();
    ev.stopPropagation();
    var id = el.classList.contains('qa-open') ? el.getAttribute('data-target')
      : 'qa-art-' + el.getAttribute('href').slice('#qa-cite-'.length);
    qaOpen(id);
  }, true);
})();
</script>
"""
