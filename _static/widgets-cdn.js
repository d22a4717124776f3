// Loaded after require.js and before the widget manager on pages with widgets (see
// nb_ipywidgets_js in _config.yml). The widget manager fetches its fonts from the folder
// that require.js associates with it; without this line that is the page's own folder,
// where the fonts do not exist (404s in the console). Keep the version equal to the
// embed-amd.js address in _config.yml (tests/browser/test_cdn_routes.py checks it).
require.config({
  paths: {
    "@jupyter-widgets/html-manager/dist": "https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.15/dist",
  },
});
