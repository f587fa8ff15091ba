// The document change list refreshes statuses on its own while any document is queued,
// parsing or embedding: it polls the admin's small JSON status endpoint every 2 seconds
// and updates each row's status (an export's with its record count), chunks, time of
// ingestion and error in place. It never reloads the page:
// a reload would wipe the message that says what was just queued.
(function () {
  "use strict";
  var IN_PROGRESS = { queued: true, parsing: true, embedding: true };
  var INTERVAL_MS = 2000;

  function badges() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-document-status]"));
  }

  function pendingIds() {
    return badges()
      .filter(function (el) { return IN_PROGRESS[el.dataset.state]; })
      .map(function (el) { return el.dataset.documentStatus; });
  }

  function statusUrl() {
    // .../admin/ragengine/document/ → .../admin/ragengine/document/status/
    var path = window.location.pathname.replace(/\/(upload\/)?$/, "/");
    return path + "status/";
  }

  function apply(id, doc) {
    var badge = document.querySelector('[data-document-status="' + id + '"]');
    if (badge) { badge.dataset.state = doc.status; badge.textContent = doc.label; }
    var chunks = document.querySelector('[data-document-chunks="' + id + '"]');
    if (chunks) { chunks.textContent = doc.chunks; }
    var ingested = document.querySelector('[data-document-ingested="' + id + '"]');
    if (ingested) { ingested.textContent = doc.ingested_at; }
    var error = document.querySelector('[data-document-error="' + id + '"]');
    if (error) { error.textContent = doc.error.length > 120 ? doc.error.slice(0, 120) + "…" : doc.error; }
  }

  function poll() {
    var ids = pendingIds();
    if (!ids.length) { return; }
    fetch(statusUrl() + "?ids=" + ids.join(","), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        Object.keys(body.documents).forEach(function (id) { apply(id, body.documents[id]); });
        if (pendingIds().length) { window.setTimeout(poll, INTERVAL_MS); }
      })
      .catch(function () { window.setTimeout(poll, INTERVAL_MS * 3); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (pendingIds().length) { window.setTimeout(poll, INTERVAL_MS); }
  });
})();
