// kiroku: small conveniences only; every page works without this file.
// "/" moves to the search field of a page that has one; buttons marked js-print print the page.
document.addEventListener("keydown", function (e) {
  if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
  var t = e.target;
  if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
  var field = document.querySelector("[data-shortcut='/']");
  if (field) { e.preventDefault(); field.focus(); }
});
document.addEventListener("click", function (e) {
  if (e.target && e.target.classList && e.target.classList.contains("js-print")) window.print();
});
