// What every part of the page uses: elements by id, new elements, the status message, and
// the `datetime-local` inputs read as UTC.

export const $ = (id) => document.getElementById(id);

export function say(text) {
  $('message').textContent = text;
}

export function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** `datetime-local` gives local wall-clock time without a zone; pvs times are UTC. */
export function inputToIso(input) {
  return input.value ? `${input.value.length === 16 ? `${input.value}:00` : input.value}Z` : '';
}

/** An error's message, for the status line. */
export function messageOf(error) {
  return String(error.message || error);
}
