// The OTA tab's building blocks: elements made without parsing text as HTML, labelled form fields
// with their validation messages, the progress bar and the state badges.
(function (OtaConsole) {
  'use strict';
  const { t, BAR_ORDER, FINISHED, total, countsText, stateLabel, batchStateLabel, formatPercent } = OtaConsole.format;

  /** An element: h('button', {class, text, onclick, 'aria-label'}, ...children). Text is never parsed as HTML. */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (key === 'style') Object.assign(node.style, value);
      else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') node[key] = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    return append(node, children);
  }

  /** Appends children: nodes, text, and (nested) arrays of them; null, undefined and false are skipped. */
  function append(node, children) {
    for (const child of children.flat(3)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** Replaces the children of `node` (as h() takes them). */
  function fill(node, ...children) {
    node.replaceChildren();
    return append(node, children);
  }

  function button(text, onclick, props) {
    return h(
      'button',
      Object.assign({ type: 'button', class: 'red-ui-button red-ui-button-small', text, onclick }, props),
    );
  }

  let uid = 0;
  function nextId(prefix) {
    uid += 1;
    return 'ota-console-' + prefix + '-' + uid;
  }

  /** A labelled form field with a place for its validation message. */
  function field(label, control, hint) {
    const id = control.id || (control.id = nextId('field'));
    const message = h('div', { class: 'ota-console-invalid', id: id + '-message', role: 'alert' });
    const help = hint ? h('div', { class: 'ota-console-hint', id: id + '-hint', text: hint }) : null;
    control.setAttribute('aria-describedby', [help && help.id, message.id].filter(Boolean).join(' '));
    return h(
      'div',
      { class: 'ota-console-field', 'data-field': control.name },
      h('label', { for: id, text: label }),
      control,
      help,
      message,
    );
  }

  function setInvalid(form, name, message) {
    const wrapper = form.querySelector('[data-field="' + name + '"]');
    if (!wrapper) return;
    const control = wrapper.querySelector('input, select, textarea');
    wrapper.querySelector('.ota-console-invalid').textContent = message || '';
    if (control) {
      if (message) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    }
  }

  /** Shows each field's message (or clears it) and focuses the first field at fault; true when none is. */
  function showErrors(form, errors, names) {
    for (const name of names) setInvalid(form, name, errors[name]);
    const first = names.find((n) => errors[n]);
    if (first) {
      const control = form.querySelector(
        ['input', 'select', 'textarea'].map((tag) => '[data-field="' + first + '"] ' + tag).join(', '),
      );
      if (control) control.focus();
    }
    return !first;
  }

  /** Re-renders `container` without losing the keyboard focus on an element with a data-focus key. */
  function keepFocus(container, render) {
    const active = document.activeElement;
    const key = active && container.contains(active) ? active.getAttribute('data-focus') : null;
    render();
    if (key) {
      const again = container.querySelector('[data-focus="' + CSS.escape(key) + '"]');
      if (again) again.focus();
    }
  }

  function focusIn(container, selector) {
    const target = container.querySelector(selector);
    if (target) target.focus();
  }

  function progressBar(counts) {
    const n = total(counts);
    const done = FINISHED.reduce((sum, s) => sum + (counts[s] || 0), 0);
    const percent = n ? Math.floor((100 * done) / n) : 0;
    const bar = h('div', {
      class: 'ota-console-progress',
      role: 'progressbar',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': percent,
      'aria-valuetext': t('format.finished', { percent, counts: countsText(counts) }),
      title: countsText(counts),
    });
    for (const state of BAR_ORDER) {
      if (counts[state])
        bar.append(
          h('span', {
            class: 'ota-console-seg ota-console-s-' + state,
            style: { width: (100 * counts[state]) / n + '%' },
          }),
        );
    }
    return h(
      'div',
      { class: 'ota-console-progress-row' },
      bar,
      h('span', { class: 'ota-console-progress-text', text: formatPercent(percent) }),
    );
  }

  /** A task state's badge; `label` for other states drawn in a task state's colour. */
  function stateBadge(state, label) {
    return h('span', {
      class: 'ota-console-badge ota-console-s-' + state,
      'data-state': state,
      text: label || stateLabel(state),
    });
  }

  function batchStateBadge(state) {
    const kind = {
      PLANNED: 'QUEUED',
      IN_PROGRESS: 'IN_PROGRESS',
      PAUSED: 'CONFIRM',
      COMPLETED: 'SUCCEEDED',
      CANCELED: 'CANCELED',
    }[state];
    return h('span', {
      class: 'ota-console-badge ota-console-s-' + (kind || 'QUEUED'),
      'data-batch-state': state,
      text: batchStateLabel(state),
    });
  }

  OtaConsole.widgets = {
    h,
    append,
    fill,
    button,
    nextId,
    field,
    setInvalid,
    showErrors,
    keepFocus,
    focusIn,
    progressBar,
    stateBadge,
    batchStateBadge,
  };
})(window.OtaConsole);
