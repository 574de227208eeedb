// dist/index.html loads its script as a module from ./assets/, which a browser
// refuses to a page opened from disk (file://): say so, and name the file that
// does run from disk, instead of leaving a blank page.
(function () {
  if (location.protocol !== 'file:') return;
  var app = document.getElementById('app');
  if (!app) return;
  var box = document.createElement('div');
  box.setAttribute('role', 'alert');
  box.setAttribute('data-testid', 'open-from-disk');
  box.style.cssText = 'max-width:46em;margin:3em auto;font:16px/1.5 system-ui,sans-serif;color:#111';
  var h = document.createElement('h1');
  h.textContent = 'SMMU Quarantine Lab cannot run from this file';
  h.style.fontSize = '1.4em';
  var p1 = document.createElement('p');
  p1.textContent =
    'This page was opened from disk (file://). Browsers do not load its scripts (JavaScript modules in ./assets/) from disk, so it cannot start here.';
  var p2 = document.createElement('p');
  p2.textContent =
    'Open smmu-quarantine-lab.html instead: it is in the same folder as this index.html, holds the whole app in one file, and runs from disk with no network. Or serve this folder over HTTP (for example "python3 -m http.server" in it) and open the address it prints.';
  box.append(h, p1, p2);
  app.append(box);
})();
