/* Render the page's math with the KaTeX that the site serves itself (assets/katex/).
 *
 * pymdownx.arithmatex (generic mode) leaves the TeX in the page, inline as
 * <span class="arithmatex">\(...\)</span> and display as <div class="arithmatex">\[...\]</div>
 * (or \begin{align}...\end{align}). Only those elements are rendered, so a dollar sign
 * in prose or code is never taken for math. Notebook pages (mkdocs-jupyter) keep the
 * notebook's own $...$ and $$...$$: their Markdown cells are rendered with auto-render.
 *
 * Material emits document$ once per page load (and again after each instant
 * navigation, should that feature be turned on), so the math is rendered every time.
 */
(function () {
  "use strict";

  const DELIMITERS = [
    [String.raw`\(`, String.raw`\)`, false],
    [String.raw`\[`, String.raw`\]`, true],
  ];

  function texOf(element) {
    const text = element.textContent.trim();
    for (const [left, right, display] of DELIMITERS) {
      if (text.startsWith(left) && text.endsWith(right)) {
        return [text.slice(left.length, text.length - right.length), display];
      }
    }
    // \begin{env}...\end{env} without delimiters: display math in a <div>.
    return [text, element.tagName === "DIV"];
  }

  function renderArithmatex(root) {
    // One macro table per page, so \gdef/\newcommand carry over from one formula to the next.
    const macros = {};
    for (const element of root.querySelectorAll(".arithmatex")) {
      if (element.dataset.katexRendered) continue;
      const [tex, displayMode] = texOf(element);
      // throwOnError: false shows a bad formula in red in place, instead of leaving the
      // rest of the page unrendered; the browser tests look for .katex-error.
      katex.render(tex, element, { displayMode, macros, throwOnError: false });
      element.dataset.katexRendered = "true";
    }
  }

  function renderNotebookCells(root) {
    const cells = root.querySelectorAll(".jp-RenderedMarkdown, .jp-MarkdownOutput");
    for (const cell of cells) {
      renderMathInElement(cell, {
        delimiters: [
          { left: "$$", right: "$$", display: true },
          { left: "$", right: "$", display: false },
          { left: String.raw`\(`, right: String.raw`\)`, display: false },
          { left: String.raw`\[`, right: String.raw`\]`, display: true },
        ],
        throwOnError: false,
      });
    }
  }

  document$.subscribe(function ({ body }) {
    renderArithmatex(body);
    renderNotebookCells(body);
  });
})();
