// Sentinel Console: keeps the CSV export form in step with the list after htmx swaps (search typed,
// column sorted, label clicked), so the file matches what the list shows. Without JS the list is
// reloaded as whole pages and the form's own hidden fields are already current.
(function () {
  "use strict";
  var STATE = ["searchValue", "labelIds", "sort", "sortDir"];

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-export-form")) return;
    var list = document.getElementById("list-controls");
    if (!list) return;
    STATE.forEach(function (name) {
      var src = list.elements.namedItem(name);
      var value = src && "value" in src ? String(src.value).trim() : "";
      var dst = null;
      for (var i = 0; i < form.elements.length; i++) {
        if (form.elements[i].name === name && form.elements[i].type === "hidden") dst = form.elements[i];
      }
      if (!value) {
        if (dst) dst.remove();
        return;
      }
      if (!dst) {
        dst = document.createElement("input");
        dst.type = "hidden";
        dst.name = name;
        form.appendChild(dst);
      }
      dst.value = value;
    });
  });
})();
