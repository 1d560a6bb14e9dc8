// The landing page's form: turns what was typed into a room name and goes there.

const form = document.querySelector('#go');
const input = document.querySelector('#room');
const status = document.querySelector('#home-status');

function slug(text) {
  return text.trim().toLowerCase().replace(/\s+/g, '-').replace(/[^a-z0-9_-]/g, '').replace(/^[-_]+/, '').slice(0, 64);
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const name = slug(input.value);
  if (!name) {
    status.textContent = 'Use letters, digits, dashes or underscores.';
    return;
  }
  location.assign(`/r/${name}`);
});
