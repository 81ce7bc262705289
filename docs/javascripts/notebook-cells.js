/* Fold the code of a notebook page's reporting cells: a learner reads the lesson's code and
 * opens the build's record (report.* calls, the setup and comparison cells) on demand.
 *
 * The build tags those cells "report" (sitebuild/homes.py, REPORT_TAG); mkdocs-jupyter
 * gives a tagged cell the class celltag_report. Each one's input goes into a closed
 * <details>; its output stays in view. A link to a folded cell's prompt (#in-N: every
 * number on a lesson page links to the cell that recorded it) opens the fold first.
 * Without JavaScript the code simply shows.
 */
(function () {
  "use strict";

  function fold(root) {
    for (const input of root.querySelectorAll(".celltag_report .jp-Cell-inputWrapper")) {
      if (input.parentElement.classList.contains("mnist-folded")) continue;
      const details = document.createElement("details");
      details.className = "mnist-folded";
      const summary = document.createElement("summary");
      summary.textContent = "Code that records results for the site";
      input.before(details);
      details.append(summary, input);
    }
  }

  function reveal() {
    const id = decodeURIComponent(location.hash.slice(1));
    const target = id && document.getElementById(id);
    const details = target && target.closest("details.mnist-folded");
    if (details && !details.open) {
      details.open = true;
      target.scrollIntoView();
    }
  }

  document$.subscribe(function ({ body }) {
    fold(body);
    reveal();
  });
  window.addEventListener("hashchange", reveal);
})();
