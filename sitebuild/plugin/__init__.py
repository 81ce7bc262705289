"""The MkDocs plugin that puts the course's runs on its pages (``mnist-course``).

Registered in ``pyproject.toml`` (``[project.entry-points."mkdocs.plugins"]``) and
listed under ``plugins:`` in ``mkdocs.yml``. One module per concern:

* ``course``         the plugin class: its config and the MkDocs events, thin;
* ``state``          what one build knows (made afresh at every build);
* ``runs``           running the code homes (all first, or in the background of serve);
* ``publishing``     notebooks, downloads, figures, results.json, runs, wheel;
* ``staging``        the temporary folder mkdocs-jupyter reads the notebook pages from;
* ``shortcodes``     the one registry of shortcode kinds, the parser and its check;
* ``results``        what a metric, figure, table or provenance shortcode becomes;
* ``course_map``     a nav section's pages as a table;
* ``boxes``          the boxes under a lesson's title;
* ``buttons``        the notebook, download and Colab buttons;
* ``jupyter_fixes``  the fixes to mkdocs-jupyter's HTML, each checked by a test.
"""
