// A batch's detail in the Batches section: its facts, progress and state filter, the batch and
// task actions, one page of its device table, and the table's CSV export.
(function (OtaConsole) {
  'use strict';
  const {
    t,
    STATES,
    ACTIVE,
    OPEN_BATCH,
    PAGE_SIZE,
    stateLabel,
    batchTypeLabel,
    total,
    firmwareLabel,
    formatTime,
    isoTime,
    formatStep,
  } = OtaConsole.format;
  const { h, fill, button, keepFocus, focusIn, progressBar, stateBadge, batchStateBadge } = OtaConsole.widgets;
  const { view, ui, loaders, get, getPage, post, taskPath, canWrite, act, firmwareById, batchById, singleFlight } =
    OtaConsole.api;

  /**
   * Up to PAGE_SIZE tasks from `after`. A page of one state reads a bounded part of the batch and
   * may answer few rows with a next cursor: ask on, request by request, until the page is full or
   * the batch ends (no single request holds the runtime long).
   */
  function tasksPage(detail, after, rows) {
    const query = { limit: PAGE_SIZE - rows.length };
    if (after) query.after = after;
    if (detail.filter) query.state = detail.filter;
    return getPage('/batches/' + detail.id + '/tasks', query).then(({ items, next }) => {
      const all = rows.concat(items);
      return next && all.length < PAGE_SIZE ? tasksPage(detail, next, all) : { items: all, next };
    });
  }

  singleFlight('tasks', () => {
    const detail = view.detail;
    if (!detail) return null;
    // Pages by cursor: each page reads from the last task of the one before, however deep.
    const after = detail.cursors[detail.page];
    return Promise.all([get('/batches/' + detail.id), tasksPage(detail, after, [])]).then(([batch, page]) => {
      if (view.detail !== detail) return;
      const known = batchById(batch.id);
      if (known) Object.assign(known, batch);
      else view.batches.unshift(batch);
      detail.batch = batch;
      view.tasks = page.items;
      detail.cursors.length = detail.page + 1;
      if (page.next) detail.cursors.push(page.next);
      render();
    });
  });

  function render() {
    const detail = view.detail;
    if (!detail) return OtaConsole.batches.render();
    const panel = ui.panels.batches;
    keepFocus(panel, () => {
      fill(
        panel,
        h(
          'div',
          { class: 'ota-console-buttons' },
          button(t('detail.back'), OtaConsole.batches.close, { 'data-focus': 'back', 'data-action': 'back' }),
          button(t('detail.exportCsv'), () => exportCsv(detail), { 'data-focus': 'csv', 'data-action': 'export-csv' }),
        ),
        h('h3', {
          class: 'ota-console-title ota-console-detail-title',
          tabindex: -1,
          text: t('detail.title', { id: detail.id }),
        }),
        h('div', { class: 'ota-console-detail-head' }),
        h('div', { class: 'ota-console-table-wrap' }, taskTable(detail)),
        pager(detail),
      );
      renderHeader();
    });
  }

  function renderHeader() {
    const detail = view.detail;
    const panel = ui.panels.batches;
    const head = panel && panel.querySelector('.ota-console-detail-head');
    if (!detail || !head) return;
    const b = detail.batch;
    if (!b) {
      fill(head, h('p', { class: 'ota-console-muted', text: t('common.loading') }));
      return;
    }
    keepFocus(head, () => fill(head, ...header(b, detail)));
  }

  /** The targets in words: "12 listed devices", "10 % (gray)", … */
  function targetsText(targets) {
    const words =
      targets.selection === 'SPECIFIC'
        ? t('detail.targets.listed', { count: (targets.devices || []).length })
        : targets.selection === 'GRAY'
          ? t('detail.targets.gray', { percent: targets.percent })
          : targets.selection === 'GROUP'
            ? t('detail.targets.group', { tag: targets.tag })
            : t('detail.targets.all');
    const productKey = targets.productKey || '';
    return targets.srcVersions
      ? t('detail.targets.summaryFrom', { productKey, targets: words, versions: targets.srcVersions.join(', ') })
      : t('detail.targets.summary', { productKey, targets: words });
  }

  /** The strategy in words: rate, retries, timeout, confirm, overwrite, abort, waves, schedule. */
  function strategyText(s) {
    return [
      s.maximumPerMinute ? t('detail.strategy.rate', { rate: s.maximumPerMinute }) : t('detail.strategy.noRate'),
      s.retryCount
        ? t('detail.strategy.retries', { count: s.retryCount, interval: s.retryInterval })
        : t('detail.strategy.noRetry'),
      s.timeoutInMinutes ? t('detail.strategy.timeout', { minutes: s.timeoutInMinutes }) : null,
      s.needConfirm ? t('detail.strategy.confirm') : null,
      s.overwrite === 'replace' ? t('detail.strategy.replace') : null,
      s.abort ? t('detail.strategy.abort', { percent: s.abort.failurePercent, minDevices: s.abort.minDevices }) : null,
      s.waves ? t('detail.strategy.waves', { waves: s.waves.join(' / ') }) : null,
      s.scheduleStart ? t('detail.strategy.from', { time: formatTime(s.scheduleStart) }) : null,
      s.scheduleFinish ? t('detail.strategy.until', { time: formatTime(s.scheduleFinish) }) : null,
    ]
      .filter(Boolean)
      .join(' · ');
  }

  function header(b, detail) {
    const fw = firmwareById(b.firmwareId);
    const n = total(b.counts);
    const chips = h('div', { class: 'ota-console-chips', role: 'group', 'aria-label': t('detail.filterLabel') });
    chips.append(chip('', t('detail.all'), n, detail));
    for (const state of STATES) chips.append(chip(state, stateLabel(state), b.counts[state] || 0, detail));
    return [
      h(
        'dl',
        { class: 'ota-console-facts' },
        h('dt', { text: t('detail.state') }),
        h('dd', null, batchStateBadge(b.state), b.reason ? ' ' + b.reason : '', creationText(b)),
        h('dt', { text: t('detail.type') }),
        h('dd', { text: batchTypeLabel(b.type) }),
        h('dt', { text: t('detail.firmware') }),
        h('dd', { text: fw ? firmwareLabel(fw) : b.firmwareId }),
        h('dt', { text: t('detail.targetsLabel') }),
        h('dd', { text: targetsText(b.targets || {}) }),
        h('dt', { text: t('detail.strategyLabel') }),
        h('dd', { text: strategyText(b.strategy || {}) }),
        h('dt', { text: t('detail.created') }),
        h('dd', { title: isoTime(b.createdAt), text: formatTime(b.createdAt) }),
      ),
      progressBar(b.counts),
      chips,
      batchActions(b, detail),
    ];
  }

  /** While CREATING: " creating 4,000 of 1,000,000 tasks" (the same words as the list). */
  function creationText(b) {
    if (b.state !== 'CREATING') return '';
    const c = b.creation;
    return c && c.total !== null && c.total !== undefined
      ? ' ' + t('batches.creating', { done: c.done.toLocaleString(), total: c.total.toLocaleString() })
      : ' ' + t('batches.readingDevices');
  }

  function chip(state, label, count, detail) {
    return h(
      'button',
      {
        type: 'button',
        class: 'ota-console-chip' + (state ? ' ota-console-s-' + state : ''),
        'data-state': state || 'ALL',
        'data-count': count,
        'data-focus': 'chip:' + (state || 'ALL'),
        'aria-pressed': String(detail.filter === state),
        onclick: () => {
          detail.filter = state;
          detail.page = 0;
          detail.cursors = [null];
          render();
          loaders.tasks();
        },
      },
      label + ' ',
      h('b', { text: String(count) }),
    );
  }

  function batchActions(b, detail) {
    if (!canWrite()) return null;
    const open = OPEN_BATCH.includes(b.state);
    const run = (action) =>
      act('actions.' + action, { id: b.id }, post('/batches/' + b.id + '/' + action), () => loaders.tasks()).catch(
        () => {},
      );
    const bar = h('div', { class: 'ota-console-buttons ota-console-actions' });
    if (detail.confirming) {
      bar.classList.add('ota-console-confirm');
      bar.append(...cancelConfirmation(b, detail, run));
      return bar;
    }
    if (b.state === 'IN_PROGRESS')
      bar.append(
        button(t('detail.pause'), () => run('pause'), {
          'data-action': 'pause',
          'data-focus': 'pause',
        }),
      );
    if (b.state === 'PAUSED')
      bar.append(
        button(t('detail.resume'), () => run('resume'), {
          'data-action': 'resume',
          'data-focus': 'resume',
        }),
      );
    if (open && b.counts.CONFIRM) {
      bar.append(
        button(t('detail.confirmAll', { count: b.counts.CONFIRM }), () => run('confirm'), {
          'data-action': 'confirm',
          'data-focus': 'confirm',
        }),
      );
    }
    // A batch being created can be canceled (its creation stops), nothing else.
    if (open || b.state === 'CREATING') {
      bar.append(
        button(
          t('detail.cancelBatch'),
          () => {
            detail.confirming = true;
            renderHeader();
            focusIn(ui.panels.batches, '[data-focus="cancel-confirm"]');
          },
          { 'data-action': 'cancel', 'data-focus': 'cancel' },
        ),
      );
    }
    return bar.children.length ? bar : null;
  }

  /** "Cancel batch #3? …" with its two answers; the question is asked once more before canceling. */
  function cancelConfirmation(b, detail, run) {
    return [
      h('span', { text: t('detail.cancelQuestion', { id: b.id }) }),
      button(
        t('detail.cancelYes'),
        () => {
          detail.confirming = false;
          renderHeader();
          focusIn(ui.panels.batches, '.ota-console-detail-title');
          run('cancel');
        },
        {
          class: 'red-ui-button red-ui-button-small ota-console-danger',
          'data-action': 'cancel-confirm',
          'data-focus': 'cancel-confirm',
        },
      ),
      button(
        t('detail.cancelKeep'),
        () => {
          detail.confirming = false;
          renderHeader();
          focusIn(ui.panels.batches, '[data-focus="cancel"]');
        },
        { 'data-action': 'cancel-keep', 'data-focus': 'cancel-keep' },
      ),
    ];
  }

  function taskTable(detail) {
    const write = canWrite();
    const b = detail.batch;
    const columns = ['device', 'state', 'step', 'reason', 'attempts', 'updated', write ? 'actions' : null];
    const table = h(
      'table',
      {
        class: 'ota-console-table',
        id: 'ota-console-tasks',
        'aria-label': detail.filter
          ? t('detail.tableLabelFiltered', { id: detail.id, state: stateLabel(detail.filter) })
          : t('detail.tableLabel', { id: detail.id }),
      },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          columns.filter(Boolean).map((c) => h('th', { scope: 'col', text: t('columns.' + c) })),
        ),
      ),
    );
    const body = h('tbody');
    for (const task of view.tasks) body.append(taskRow(task, b, write));
    if (view.tasks.length === 0)
      body.append(
        h(
          'tr',
          null,
          h('td', {
            colspan: write ? 7 : 6,
            class: 'ota-console-empty',
            text: b ? t('detail.noTask') : t('common.loading'),
          }),
        ),
      );
    table.append(body);
    return table;
  }

  function taskRow(task, b, write) {
    return h(
      'tr',
      { 'data-device': task.deviceName, 'data-product': task.productKey, 'data-state': task.state },
      h('td', {
        class: 'ota-console-mono',
        title: t('detail.deviceTitle', { device: task.productKey + '/' + task.deviceName, module: task.module }),
        text: task.deviceName,
      }),
      h('td', null, stateBadge(task.state)),
      h('td', { 'data-step': task.step === null ? '' : task.step, text: formatStep(task.step) }),
      h('td', { class: 'ota-console-reason', text: task.reason || '' }),
      h('td', { text: String(task.attempts) }),
      h('td', { title: isoTime(task.updatedAt), text: formatTime(task.updatedAt) }),
      write ? h('td', { class: 'ota-console-row-actions' }, taskActions(task, b)) : null,
    );
  }

  function taskActions(task, b) {
    const key = task.productKey + '/' + task.deviceName;
    const device = task.deviceName;
    const run = (words, action) =>
      act(words, { device }, post(taskPath(b ? b.id : view.detail.id, task, action)), () => loaders.tasks()).catch(
        () => {},
      );
    const actions = [];
    if (task.state === 'CONFIRM')
      actions.push(
        button(t('detail.confirm'), () => run('actions.taskConfirm', 'confirm'), {
          'data-action': 'task-confirm',
          'data-focus': 'confirm:' + key,
        }),
      );
    if (ACTIVE.includes(task.state))
      actions.push(
        button(t('common.cancel'), () => run('actions.taskCancel', 'cancel'), {
          'data-action': 'task-cancel',
          'data-focus': 'cancel:' + key,
        }),
      );
    if ((task.state === 'FAILED' || task.state === 'CANCELED') && b && b.state !== 'CANCELED') {
      actions.push(
        button(t('detail.reupgrade'), () => run('actions.taskReupgrade', 'reupgrade'), {
          'data-action': 'task-reupgrade',
          'data-focus': 'reupgrade:' + key,
        }),
      );
    }
    return actions;
  }

  function pager(detail) {
    const b = detail.batch;
    const count = b ? (detail.filter ? b.counts[detail.filter] || 0 : total(b.counts)) : 0;
    const first = detail.page * PAGE_SIZE;
    const hasNext = detail.cursors.length > detail.page + 1;
    if (count <= PAGE_SIZE && detail.page === 0 && !hasNext)
      return h('p', {
        class: 'ota-console-muted',
        text: t(count === 1 ? 'detail.oneTask' : 'detail.tasks', { count }),
      });
    const move = (delta) => {
      detail.page = Math.max(0, detail.page + delta);
      loaders.tasks();
    };
    return h(
      'div',
      { class: 'ota-console-buttons' },
      button(t('detail.previous'), () => move(-1), { disabled: detail.page === 0, 'data-focus': 'prev' }),
      h('span', {
        class: 'ota-console-muted',
        text: t('detail.page', {
          first: Math.min(count, first + 1),
          last: Math.min(count, first + view.tasks.length),
          count,
        }),
      }),
      button(t('detail.next'), () => move(1), {
        disabled: !hasNext,
        'data-focus': 'next',
      }),
    );
  }

  const EXPORT_PAGE = 5000;
  const EXPORT_LIMIT = 100000;

  function csvCell(value) {
    let text = value === null || value === undefined ? '' : String(value);
    // A leading = + - @ would make a spreadsheet evaluate the cell.
    if (typeof value === 'string' && /^[=+\-@]/.test(text)) text = "'" + text;
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  /** The CSV's columns keep their names in every language; stateLabel is in the editor's. */
  const CSV_HEADER = [
    'productKey',
    'deviceName',
    'module',
    'state',
    'stateLabel',
    'step',
    'reason',
    'attempts',
    'srcVersion',
    'updatedAt',
  ];

  function csvOf(tasks) {
    const lines = [CSV_HEADER.join(',')].concat(
      tasks.map((task) =>
        [
          task.productKey,
          task.deviceName,
          task.module,
          task.state,
          stateLabel(task.state),
          task.step,
          task.reason,
          task.attempts,
          task.srcVersion,
          isoTime(task.updatedAt),
        ]
          .map(csvCell)
          .join(','),
      ),
    );
    return lines.join('\r\n') + '\r\n';
  }

  /** The CSV's tasks (the first EXPORT_LIMIT), a page of EXPORT_PAGE at a time: no request holds the runtime long. */
  function exportedTasks(detail, tasks, after) {
    // A page of one state may be short and still have a next one (see tasksPage).
    const query = { limit: Math.min(EXPORT_PAGE, EXPORT_LIMIT - tasks.length) };
    if (after) query.after = after;
    if (detail.filter) query.state = detail.filter;
    return getPage('/batches/' + detail.id + '/tasks', query).then((page) => {
      tasks.push(...page.items);
      return page.next && tasks.length < EXPORT_LIMIT ? exportedTasks(detail, tasks, page.next) : tasks;
    });
  }

  function exportCsv(detail) {
    return exportedTasks(detail, []).then(
      (tasks) => {
        const url = URL.createObjectURL(new Blob([csvOf(tasks)], { type: 'text/csv' }));
        const link = h('a', {
          href: url,
          download: 'batch-' + detail.id + (detail.filter ? '-' + detail.filter.toLowerCase() : '') + '-tasks.csv',
          hidden: true,
        });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      },
      (err) =>
        RED.notify(t('detail.exportFailed', { error: err.message }), {
          type: 'error',
          timeout: 6000,
        }),
    );
  }

  OtaConsole.batchDetail = { render, renderHeader };
})(window.OtaConsole);
