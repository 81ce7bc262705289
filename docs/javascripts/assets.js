/* The data files the interactive pages load (a network's weights, the fits of a curve),
 * as an ArrayBuffer: window.courseAsset(href).
 *
 * On the web, fetch(). From the offline copy (downloads/course-offline.zip), a page is
 * opened as file://, where browsers refuse fetch(); that copy's build writes beside each
 * data file a script, FILE.js, that stores the bytes (base64) in window.courseAssets
 * under the file's own address (sitebuild/downloads.py, asset_script). Script tags load
 * from file:// where fetch() cannot.
 */
(function () {
  "use strict";

  function fromScript(href) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = `${href}.js`;
      script.onload = () => {
        const text = (window.courseAssets || {})[href];
        if (text === undefined) reject(new Error(`${script.src} holds no data for ${href}`));
        else resolve(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer);
      };
      script.onerror = () => reject(new Error(`${script.src} could not be loaded: an offline ` +
                                              "copy has one beside each data file"));
      document.head.append(script);
    });
  }

  window.courseAsset = function (href) {
    if (location.protocol === "file:") return fromScript(href);
    return fetch(href).then((r) => {
      if (!r.ok) throw new Error(`${r.url}: ${r.status}`);
      return r.arrayBuffer();
    });
  };

  window.courseJson = function (href) {
    return window.courseAsset(href).then((buffer) => JSON.parse(new TextDecoder().decode(buffer)));
  };
})();
