// The OTA sidebar tab's loader: nodes/ota-console.html loads this file, then registers the plugin.
// Node-RED inserts a plugin's <script src> tags as dynamic scripts, which run in whatever order
// they arrive; this inserts the tab's files itself with async = false, which makes the browser
// run them in the order inserted. Each file extends the namespace window.OtaConsole with what it
// defines; OtaConsole.ready resolves with the tab (tab.js) once the last one has run.
(function () {
  'use strict';

  /** In load order: each file may use what the files before it defined, at load time. */
  const FILES = [
    'format.js',
    'widgets.js',
    'api.js',
    'versions.js',
    'firmware.js',
    'batches.js',
    'batch-form.js',
    'batch-detail.js',
    'devices.js',
    'tab.js',
  ];
  /** This file's folder, as Node-RED served it (resources/<package>/ota-console/ under the admin root). */
  const here = document.currentScript && document.currentScript.src;
  const base = here
    ? here.slice(0, here.lastIndexOf('/') + 1)
    : RED.settings.apiRootUrl + 'resources/@mqtt-ota/node-red-contrib-mqtt-ota/ota-console/';

  function load(file) {
    return new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.async = false;
      script.src = base + file;
      script.onload = resolve;
      script.onerror = () => reject(new Error(script.src));
      document.head.append(script);
    });
  }

  const OtaConsole = (window.OtaConsole = {});
  OtaConsole.ready = Promise.all(FILES.map(load)).then(
    () => OtaConsole.tab,
    (err) => {
      RED.notify(RED._('@mqtt-ota/node-red-contrib-mqtt-ota/ota-console:tab.loadFailed', { file: err.message }), {
        type: 'error',
        timeout: 10000,
      });
      throw err;
    },
  );
})();
