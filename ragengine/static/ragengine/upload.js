// The upload page lists every chosen file under the file input (the input itself shows
// only one name), with its size, so an admin sees what a multi-file upload will send.
(function () {
  "use strict";
  function size(bytes) {
    if (bytes < 1024) { return bytes + " bytes"; }
    if (bytes < 1024 * 1024) { return (bytes / 1024).toFixed(1) + " KB"; }
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }
  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("id_files");
    var list = document.getElementById("upload-chosen");
    if (!input || !list) { return; }
    input.addEventListener("change", function () {
      list.textContent = "";
      Array.prototype.forEach.call(input.files, function (file) {
        var item = document.createElement("li");
        item.textContent = file.name + " (" + size(file.size) + ")";
        list.appendChild(item);
      });
    });
  });
})();
