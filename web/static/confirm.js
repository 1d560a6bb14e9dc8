// A confirmation asked in a page's own <dialog>: a title, a text and two buttons. Cancel (or
// Escape) is the answer focus starts on. Shared by the admin page and the organiser console.

/** Wires the dialog's buttons; returns `ask({ title, text, yes }, onClose)`, which resolves
 *  true on the confirm button and false otherwise. `onClose(ok)` runs as the dialog closes
 *  (to put focus back), before the promise resolves. */
export function confirmer({ dialog, title, text, yes, no }) {
  yes.addEventListener('click', () => dialog.close('yes'));
  no.addEventListener('click', () => dialog.close('no'));
  return (q, onClose) => {
    if (dialog.open) return Promise.resolve(false);
    title.textContent = q.title;
    text.textContent = q.text;
    yes.textContent = q.yes;
    dialog.returnValue = '';
    dialog.showModal();
    no.focus();
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => {
        const ok = dialog.returnValue === 'yes';
        onClose?.(ok);
        resolve(ok);
      }, { once: true });
    });
  };
}
