"""The page's look and behaviour: the theme, the stylesheet and the one script in the head."""

from __future__ import annotations

import gradio as gr

# System fonts: the page loads nothing from the internet.
THEME = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])

CSS = """
#qa-header h2 { margin: 0.2em 0 0; }
#qa-header p { margin: 0.1em 0 0.2em; opacity: 0.85; }
#qa-status { font-size: 0.85em; opacity: 0.85; }
#qa-examples button { white-space: normal; text-align: left; }
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
.qa-article { margin-top: 0.5em; padding: 0 0.5em 0.5em; max-height: 22em; overflow-y: auto;
  font-size: 0.9em; border-top: 1px dashed var(--border-color-primary); }
/* The article's head stays at the top of its scroll box; the text scrolls under it. */
.qa-article-head { position: sticky; top: 0; z-index: 1; display: flex; gap: 0.5em;
  justify-content: space-between; align-items: flex-start; padding: 0.4em 0;
  background: var(--background-fill-primary); border-bottom: 1px solid var(--border-color-primary);
  font-size: 0.85em; font-weight: 600; }
.qa-article-meta { font-weight: 400; opacity: 0.8; word-break: break-word; }
.qa-close { all: unset; cursor: pointer; white-space: nowrap; color: var(--color-accent);
  font-weight: 600; }
.qa-article-text { white-space: pre-wrap; padding-top: 0.3em; }
/* A quote scrolled into view lands below the sticky head, not under it. */
mark.qa-quote { background: #ffe58a; color: #111; padding: 0 1px; scroll-margin-top: 5em; }
/* The article table in the page's own font; headers on one line; cut cells show all on hover. */
#qa-articles table, #qa-articles th, #qa-articles td, #qa-articles span,
#qa-articles .cell-wrap { font-family: var(--font) !important; }
#qa-articles [role=columnheader] span { white-space: nowrap; word-break: normal; }
#qa-table-hint { display: none; }
.qa-filters-on { font-size: 0.85em; }
.qa-chip-filter { display: inline-block; margin: 0 0.3em; padding: 0.05em 0.6em;
  border-radius: 1em; background: var(--color-accent-soft); color: var(--color-accent);
  font-weight: 600; }
/* A phone stacks the page: the Sources come right under the answer (before the examples and
   filters), and the article table keeps readable columns and scrolls sideways. */
@media (max-width: 640px) {
  #qa-left { display: contents; }
  #qa-left > *, #qa-right { flex: 1 1 100%; min-width: 100%; }
  #qa-right { order: 1; }
  #qa-examples, #qa-filters { order: 2; }
  #qa-articles [role=grid], #qa-articles table { min-width: 820px; }
  #qa-articles .table-wrap, #qa-articles > div { overflow-x: auto; }
  #qa-table-hint { display: block; font-size: 0.85em; opacity: 0.8; }
}
/* Deleting a file cannot be undone from the page: the button looks destructive. */
#qa-delete { background: #c62828 !important; border-color: #c62828 !important;
  color: #fff !important; }
"""

# The Delete button's check in the browser: the file and whether the user confirmed.
CONFIRM_DELETE = """(file, _) => [file, file ? window.confirm('Delete ' + file +
  ' from the corpus folder? The file is removed from disk; a rebuild then drops it from the ' +
  'answers.') : false]"""

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
  // A table cell too narrow for its text (a long file name) shows it whole on hover.
  document.addEventListener('mouseover', function (ev) {
    var td = ev.target.closest && ev.target.closest('#qa-articles [role=gridcell]');
    if (td && !td.title) td.title = td.textContent.trim();
  });
  function qaClose(id) {
    var art = document.getElementById(id);
    if (!art) return;
    art.hidden = true;
    var src = art.closest('.qa-source');
    if (src) { src.classList.remove('qa-active'); src.scrollIntoView({block: 'nearest'}); }
  }
  document.addEventListener('click', function (ev) {
    var close = ev.target.closest && ev.target.closest('.qa-close');
    if (close) {
      ev.preventDefault();
      qaClose(close.getAttribute('data-target'));
      return;
    }
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
