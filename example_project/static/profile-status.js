// Keeps the profile's validation status up to date without reloading the page: polls the JSON
// endpoint about once a second and swaps in the fragment it returns, until the status is final.
(function () {
  "use strict";

  var box = document.getElementById("cedula-status");
  if (!box || box.dataset.final === "true") {
    return;
  }
  var url = box.dataset.statusUrl;
  var interval = 1000;
  var lastHtml = null;

  function schedule() {
    window.setTimeout(poll, interval);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          return null; // logged out in another tab: stop polling
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (data === null) {
          return;
        }
        if (data.html !== lastHtml) {
          lastHtml = data.html;
          box.innerHTML = data.html;
        }
        box.dataset.status = data.status || "";
        box.dataset.final = data.final ? "true" : "false";
        if (!data.final) {
          schedule();
        }
      })
      .catch(function () {
        schedule(); // the server restarting is no reason to give up
      });
  }

  schedule();
})();
