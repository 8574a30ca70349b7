// The Batches section's list: every batch newest first with its live progress, the button that
// opens the batch form (batch-form.js), and the way into a batch's detail (batch-detail.js).
(function (OtaConsole) {
  'use strict';
  const { t, firmwareLabel, countsText, batchTypeLabel, batchStateLabel } = OtaConsole.format;
  const { h, fill, button, keepFocus, progressBar, batchStateBadge } = OtaConsole.widgets;
  const { view, ui, get, canWrite, firmwareById, batchById, singleFlight } = OtaConsole.api;

  singleFlight('batches', () =>
    get('/batches').then((rows) => {
      view.batches = rows.slice().sort((a, b) => b.id - a.id);
      render();
      OtaConsole.firmware.render();
    }),
  );

  function render() {
    if (view.detail) return OtaConsole.batchDetail.render();
    const panel = ui.panels.batches;
    keepFocus(panel, () => {
      const form = ui.batchForm;
      fill(panel, h('h3', { class: 'ota-console-title', text: t('batches.title') }));
      if (canWrite()) {
        panel.append(
          h(
            'div',
            { class: 'ota-console-buttons' },
            button(form.hidden ? t('batches.new') : t('batches.closeForm'), () => OtaConsole.batchForm.toggle(), {
              'data-action': 'new-batch',
              'data-focus': 'new-batch',
              'aria-expanded': String(!form.hidden),
              'aria-controls': form.id,
            }),
          ),
          form,
        );
      }
      const list = h('ul', {
        class: 'ota-console-cards',
        id: 'ota-console-batch-list',
        'aria-label': t('batches.title'),
      });
      for (const b of view.batches) list.append(card(b));
      panel.append(view.batches.length ? list : h('p', { class: 'ota-console-empty', text: t('batches.empty') }));
    });
  }

  function card(b) {
    const fw = firmwareById(b.firmwareId);
    return h(
      'li',
      { class: 'ota-console-card', 'data-batch-id': b.id, 'data-state': b.state },
      h(
        'button',
        {
          type: 'button',
          class: 'ota-console-card-open',
          'data-focus': 'batch:' + b.id,
          onclick: () => open(b.id),
          'aria-label': t('batches.openLabel', {
            id: b.id,
            type: batchTypeLabel(b.type),
            state: batchStateLabel(b.state),
          }),
        },
        h(
          'span',
          { class: 'ota-console-card-head' },
          h('strong', { text: '#' + b.id + ' ' + batchTypeLabel(b.type) }),
          ' ',
          h('span', { class: 'ota-console-muted', text: fw ? firmwareLabel(fw) : b.firmwareId }),
          ' ',
          batchStateBadge(b.state),
        ),
      ),
      h('div', { class: 'ota-console-batch-live' }, live(b)),
    );
  }

  function live(b) {
    if (b.state === 'CREATING') return [creating(b)];
    return [
      progressBar(b.counts),
      h('div', { class: 'ota-console-counts', 'data-counts': JSON.stringify(b.counts), text: countsText(b.counts) }),
    ];
  }

  /** A batch still being stored a slice at a time: how many of its tasks are stored. */
  function creating(b) {
    const c = b.creation;
    const known = c && c.total !== null && c.total !== undefined;
    return h('div', {
      class: 'ota-console-counts ota-console-creating',
      'data-creation': JSON.stringify(c || null),
      text: known
        ? t('batches.creating', { done: c.done.toLocaleString(), total: c.total.toLocaleString() })
        : t('batches.readingDevices'),
    });
  }

  /** Updates the counts and states shown from the cache, without refetching. */
  function renderSummaries() {
    const panel = ui.panels && ui.panels.batches;
    if (!panel) return;
    for (const b of view.batches) {
      const item = panel.querySelector('#ota-console-batch-list [data-batch-id="' + b.id + '"]');
      if (!item) continue;
      item.setAttribute('data-state', b.state);
      item.querySelector('[data-batch-state]').replaceWith(batchStateBadge(b.state));
      fill(item.querySelector('.ota-console-batch-live'), ...live(b));
    }
    if (view.detail && view.detail.batch) {
      const b = batchById(view.detail.id);
      if (b) {
        view.detail.batch = Object.assign({}, view.detail.batch, {
          state: b.state,
          counts: b.counts,
          creation: b.creation,
        });
        OtaConsole.batchDetail.renderHeader();
      }
    }
  }

  /** Opens a batch's detail in the Batches section, its heading focused. */
  function open(id) {
    view.detail = { id, filter: '', page: 0, cursors: [null], batch: batchById(id) || null, confirming: false };
    view.tasks = [];
    OtaConsole.tab.showPanel('batches');
    OtaConsole.batchDetail.render();
    const heading = ui.panels.batches.querySelector('.ota-console-detail-title');
    if (heading) heading.focus();
    return OtaConsole.api.loaders.tasks();
  }

  /** Back to the list, the focus on the batch that was open. */
  function close() {
    const id = view.detail && view.detail.id;
    view.detail = null;
    render();
    const back = ui.panels.batches.querySelector('[data-focus="batch:' + id + '"]');
    if (back) back.focus();
  }

  OtaConsole.batches = { render, renderSummaries, open, close };
})(window.OtaConsole);
