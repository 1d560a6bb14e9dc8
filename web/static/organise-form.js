// The console's forms: a server error is shown next to the field it names (the problem
// document's field errors), or above the form when it names none. What was typed stays.

/** Clears every error the form shows. */
export function clearErrors(form) {
  for (const input of form.querySelectorAll('[aria-invalid="true"]')) input.removeAttribute('aria-invalid');
  for (const p of form.querySelectorAll('.field-error, .form-error')) {
    p.textContent = '';
    p.hidden = true;
  }
}

/** Shows `error` (an ApiError) on `form`; focuses the first field it names, or the form error. */
export function showErrors(form, error) {
  clearErrors(form);
  const general = form.querySelector('.form-error');
  let first = null;
  const unplaced = [];
  for (const { field, message } of error.fields ?? []) {
    const name = String(field);
    const base = name.replace(/\[\d+\]$/, ''); // term.weekdays[0] is the weekdays' field
    const input = [name, base].map((n) => form.querySelector(`[name="${CSS.escape(n)}"]:not([type="checkbox"]), [data-field="${CSS.escape(n)}"]`)).find(Boolean);
    const slot = input && document.getElementById(`${input.id}-error`);
    if (!slot) {
      unplaced.push(`${field}: ${message}`);
      continue;
    }
    input.setAttribute('aria-invalid', 'true');
    slot.textContent = message;
    slot.hidden = false;
    first ??= input;
  }
  if (!first || unplaced.length) {
    general.textContent = [error.message, ...unplaced].join(' · ');
    general.hidden = false;
  }
  if (first) {
    (first.matches('fieldset') ? first.querySelector('input') : first).focus();
  } else {
    general.tabIndex = -1;
    general.focus();
  }
}

/** A number input's value: null when empty, else the number (the server judges its range). */
export function numberOrNull(input) {
  const v = input.value.trim();
  return v === '' ? null : Number(v);
}
