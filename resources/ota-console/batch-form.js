// The form that starts a batch: firmware, type, targets, source versions and strategy. It checks
// each field as the fleet will and shows the message under the field at fault; a refusal from
// the fleet goes under the field it names, or above the buttons.
(function (OtaConsole) {
  'use strict';
  const { t, splitList, isLabel, isName, labelRule, nameRule, firmwareLabel, verificationLabel } = OtaConsole.format;
  const { h, fill, button, field, showErrors } = OtaConsole.widgets;
  const { view, ui, loaders, post, currentFleet, firmwareById } = OtaConsole.api;

  const BATCH_FIELDS = [
    'firmwareId',
    'selection',
    'devices',
    'percent',
    'tag',
    'srcVersions',
    'maximumPerMinute',
    'scheduleStart',
    'scheduleFinish',
    'retryCount',
    'retryInterval',
    'timeoutInMinutes',
    'failurePercent',
    'minDevices',
    'waves',
  ];

  function toggle(show) {
    const form = ui.batchForm;
    form.hidden = show === undefined ? !form.hidden : !show;
    OtaConsole.batches.render();
    if (!form.hidden) form.querySelector('select, input').focus();
  }

  function reset() {
    ui.batchForm = build();
    ui.batchForm.hidden = true;
  }

  function select(name, options) {
    return h(
      'select',
      { name },
      options.map(([value, text]) => h('option', { value, text })),
    );
  }

  function number(name, props) {
    return h('input', Object.assign({ type: 'number', name, inputmode: 'decimal' }, props));
  }

  function build() {
    const form = h('form', {
      class: 'ota-console-form',
      id: 'ota-console-batch-form',
      'aria-label': t('batchForm.title'),
      novalidate: true,
      onsubmit: submit,
    });
    form.append(
      h('h4', { text: t('batchForm.title') }),
      field(t('batchForm.firmware'), h('select', { name: 'firmwareId', onchange: () => refreshSourceVersions(form) })),
      field(
        t('batchForm.type'),
        select('type', [
          ['static', t('batchForm.types.static')],
          ['dynamic', t('batchForm.types.dynamic')],
          ['verify', t('batchForm.types.verify')],
        ]),
        null,
      ),
      targetChoice(form),
      field(
        t('batchForm.devices'),
        h('textarea', { name: 'devices', rows: 3, placeholder: t('batchForm.devicesPlaceholder') }),
        t('batchForm.devicesHint'),
      ),
      field(t('batchForm.percent'), number('percent', { min: 0.001, max: 100, step: 'any', value: 10 })),
      field(t('batchForm.tag'), h('input', { type: 'text', name: 'tag', autocomplete: 'off' }), t('batchForm.tagHint')),
      h(
        'fieldset',
        { class: 'ota-console-choice', 'data-field': 'srcVersions' },
        h('legend', { text: t('batchForm.srcVersions') }),
        h('div', { class: 'ota-console-src' }),
        h('div', { class: 'ota-console-invalid', role: 'alert' }),
      ),
      strategyFields(),
      h('div', { class: 'ota-console-form-error', role: 'alert' }),
      h(
        'div',
        { class: 'ota-console-buttons' },
        h('button', {
          type: 'submit',
          class: 'red-ui-button',
          text: t('batchForm.start'),
          'data-action': 'start-batch',
        }),
        button(t('common.cancel'), () => toggle(false)),
      ),
    );
    form.elements.type.addEventListener('change', () => showTargetFields(form));
    refreshFirmwareChoices(form);
    showTargetFields(form);
    return form;
  }

  function targetChoice(form) {
    return h(
      'fieldset',
      { class: 'ota-console-choice', 'data-field': 'selection' },
      h('legend', { text: t('batchForm.targets') }),
      ['ALL', 'SPECIFIC', 'GRAY', 'GROUP'].map((value, i) =>
        h(
          'label',
          null,
          h('input', {
            type: 'radio',
            name: 'selection',
            value,
            checked: i === 0,
            onchange: () => showTargetFields(form),
          }),
          ' ' + t('batchForm.selection.' + value),
        ),
      ),
      h('div', { class: 'ota-console-invalid', role: 'alert' }),
    );
  }

  function strategyFields() {
    return h(
      'fieldset',
      { class: 'ota-console-strategy' },
      h('legend', { text: t('batchForm.strategy') }),
      field(
        t('batchForm.maximumPerMinute'),
        number('maximumPerMinute', { min: 1, step: 1, placeholder: t('batchForm.noLimit') }),
      ),
      field(
        t('batchForm.scheduleStart'),
        h('input', { type: 'datetime-local', name: 'scheduleStart' }),
        t('batchForm.now'),
      ),
      field(
        t('batchForm.scheduleFinish'),
        h('input', { type: 'datetime-local', name: 'scheduleFinish' }),
        t('batchForm.scheduleFinishHint'),
      ),
      field(t('batchForm.retryCount'), number('retryCount', { min: 0, max: 10, step: 1, value: 0 })),
      field(t('batchForm.retryInterval'), number('retryInterval', { min: 0, max: 1440, step: 'any', value: 0 })),
      field(
        t('batchForm.timeoutInMinutes'),
        number('timeoutInMinutes', { min: 0.01, max: 1440, step: 'any', placeholder: t('batchForm.noTimeout') }),
      ),
      field(
        t('batchForm.overwrite'),
        select('overwrite', [
          ['keep', t('batchForm.keep')],
          ['replace', t('batchForm.replace')],
        ]),
      ),
      h(
        'div',
        { class: 'ota-console-field', 'data-field': 'needConfirm' },
        h('label', null, h('input', { type: 'checkbox', name: 'needConfirm' }), ' ' + t('batchForm.needConfirm')),
      ),
      field(
        t('batchForm.failurePercent'),
        number('failurePercent', { min: 0.001, max: 100, step: 'any', placeholder: t('batchForm.never') }),
      ),
      field(t('batchForm.minDevices'), number('minDevices', { min: 1, step: 1, placeholder: '1' })),
      field(
        t('batchForm.waves'),
        h('input', {
          type: 'text',
          name: 'waves',
          placeholder: t('batchForm.wavesPlaceholder'),
          autocomplete: 'off',
        }),
        t('batchForm.wavesHint'),
      ),
    );
  }

  function showTargetFields(form) {
    const selection = form.elements.selection.value;
    const type = form.elements.type.value;
    const visible = {
      devices: selection === 'SPECIFIC' || type === 'verify',
      percent: selection === 'GRAY',
      tag: selection === 'GROUP',
    };
    for (const [name, show] of Object.entries(visible))
      form.querySelector('[data-field="' + name + '"]').hidden = !show;
    form.querySelector('[data-field="selection"]').hidden = type === 'verify';
    form.querySelector('[data-field="waves"]').hidden = type === 'dynamic';
  }

  /** A firmware is usable for a static or dynamic batch once verified, when the fleet requires it. */
  function requiresVerification() {
    return currentFleet() ? currentFleet().requireVerification : false;
  }

  function isUsable(fw) {
    return !requiresVerification() || fw.verification === 'verified' || fw.verification === 'not-required';
  }

  function refreshFirmwareChoices(form = ui.batchForm) {
    if (!form) return;
    const choice = form.elements.firmwareId;
    const chosen = choice.value;
    fill(
      choice,
      h('option', {
        value: '',
        text: view.firmware.length ? t('batchForm.chooseFirmware') : t('batchForm.noFirmware'),
      }),
      view.firmware.map((fw) =>
        h('option', {
          value: fw.id,
          text: t(isUsable(fw) ? 'batchForm.firmwareChoice' : 'batchForm.firmwareChoiceUnverified', {
            firmware: firmwareLabel(fw),
            verification: verificationLabel(fw.verification),
          }),
        }),
      ),
    );
    choice.value = firmwareById(chosen) ? chosen : '';
    refreshSourceVersions(form);
  }

  function refreshSourceVersions(form = ui.batchForm) {
    if (!form) return;
    const fw = firmwareById(form.elements.firmwareId.value);
    const box = form.querySelector('.ota-console-src');
    const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
    const versions = fw
      ? view.versions.filter(
          (v) => v.productKey === fw.productKey && v.module === fw.module && v.version !== fw.version,
        )
      : [];
    fill(
      box,
      versions.length
        ? versions.map((v) =>
            h(
              'label',
              null,
              h('input', {
                type: 'checkbox',
                name: 'srcVersions',
                value: v.version,
                checked: checked.has(v.version),
              }),
              ' ' + t('batchForm.srcVersion', { version: v.version, count: v.count }),
            ),
          )
        : h('span', {
            class: 'ota-console-muted',
            text: fw ? t('batchForm.noOtherVersion') : t('batchForm.firmwareFirst'),
          }),
    );
  }

  /** The batch request the form describes, and what is wrong with it (by field). */
  function read(form) {
    const el = form.elements;
    const text = (name) => String(el[name].value || '').trim();
    const errors = {};
    const fw = firmwareById(text('firmwareId'));
    const type = text('type');
    if (!fw) errors.firmwareId = t('batchForm.invalid.firmware');
    if (fw && type !== 'verify' && !isUsable(fw))
      errors.firmwareId = t('batchForm.invalid.unverified', { verification: verificationLabel(fw.verification) });
    const selection = type === 'verify' ? 'SPECIFIC' : el.selection.value;
    const targets = { selection, productKey: fw ? fw.productKey : undefined };
    if (selection === 'SPECIFIC') {
      const devices = splitList(el.devices.value);
      const max = type === 'verify' ? 10 : 100000;
      if (devices.length === 0 || devices.length > max) errors.devices = t('batchForm.invalid.devices', { max });
      else if (devices.some((d) => !isName(d))) errors.devices = t('rules.deviceNames', { rule: nameRule() });
      targets.devices = devices;
    }
    if (selection === 'GRAY') {
      const percent = Number(text('percent'));
      if (text('percent') === '' || !(percent > 0 && percent <= 100)) errors.percent = t('batchForm.invalid.percent');
      if (type === 'dynamic') errors.selection = t('batchForm.invalid.dynamicGray');
      targets.percent = percent;
    }
    if (selection === 'GROUP') {
      if (!isLabel(text('tag'))) errors.tag = t('batchForm.invalid.tag', { rule: labelRule() });
      targets.tag = text('tag');
    }
    const srcVersions = [...form.querySelectorAll('input[name=srcVersions]:checked')].map((i) => i.value);
    if (srcVersions.length > 10) errors.srcVersions = t('batchForm.invalid.srcVersions');
    if (srcVersions.length) targets.srcVersions = srcVersions;
    const strategy = readStrategy(form, errors, type);
    return { request: { firmwareId: fw ? fw.id : undefined, type, targets, strategy }, errors };
  }

  function readStrategy(form, errors, type) {
    const el = form.elements;
    const text = (name) => String(el[name].value || '').trim();
    const strategy = {};
    const number = (name, min, max, integer, message) => {
      if (text(name) === '') return undefined;
      const n = Number(text(name));
      if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) errors[name] = message;
      return n;
    };
    const put = (name, value) => {
      if (value !== undefined) strategy[name] = value;
    };
    put('maximumPerMinute', number('maximumPerMinute', 1, 1000000, true, t('batchForm.invalid.maximumPerMinute')));
    put('retryCount', number('retryCount', 0, 10, true, t('batchForm.invalid.retryCount')));
    put('retryInterval', number('retryInterval', 0, 1440, false, t('batchForm.invalid.retryInterval')));
    put('timeoutInMinutes', number('timeoutInMinutes', 0.01, 1440, false, t('batchForm.invalid.timeoutInMinutes')));
    readSchedule(text, errors, strategy);
    strategy.overwrite = text('overwrite');
    strategy.needConfirm = el.needConfirm.checked;
    const failurePercent = number('failurePercent', 0.001, 100, false, t('batchForm.invalid.percent'));
    const minDevices = number('minDevices', 1, 1000000, true, t('batchForm.invalid.minDevices'));
    if (minDevices !== undefined && failurePercent === undefined && !errors.minDevices)
      errors.failurePercent = t('batchForm.invalid.failurePercent');
    if (failurePercent !== undefined)
      strategy.abort = { failurePercent, minDevices: minDevices === undefined ? 1 : minDevices };
    if (type !== 'dynamic' && text('waves')) {
      const waves = text('waves')
        .split(/[\s,]+/)
        .filter(Boolean)
        .map(Number);
      const ok = waves.length <= 20 && waves.every((w, i) => w > 0 && w <= 100 && (i === 0 || w > waves[i - 1]));
      if (!ok) errors.waves = t('batchForm.invalid.waves');
      else strategy.waves = waves;
    }
    return strategy;
  }

  function readSchedule(text, errors, strategy) {
    const start = text('scheduleStart') ? new Date(text('scheduleStart')) : null;
    const finish = text('scheduleFinish') ? new Date(text('scheduleFinish')) : null;
    if (start && isNaN(start)) errors.scheduleStart = t('batchForm.invalid.dateTime');
    if (finish && isNaN(finish)) errors.scheduleFinish = t('batchForm.invalid.dateTime');
    if (start && finish && !isNaN(start) && !isNaN(finish) && finish <= start)
      errors.scheduleFinish = t('batchForm.invalid.afterStart');
    if (finish && !isNaN(finish) && finish <= new Date()) errors.scheduleFinish = t('batchForm.invalid.future');
    if (start && !isNaN(start)) strategy.scheduleStart = start.toISOString();
    if (finish && !isNaN(finish)) strategy.scheduleFinish = finish.toISOString();
  }

  function submit(event) {
    event.preventDefault();
    const form = event.target;
    const { request, errors } = read(form);
    const formError = form.querySelector('.ota-console-form-error');
    formError.textContent = '';
    if (!showErrors(form, errors, BATCH_FIELDS)) return;
    const submitButton = form.querySelector('[type=submit]');
    submitButton.disabled = true;
    post('/batches', request)
      .then(
        (batch) => {
          RED.notify(t('batchForm.started', { id: batch.id }), { type: 'success', timeout: 2500 });
          reset();
          view.batches.unshift(batch);
          OtaConsole.batches.open(batch.id);
          loaders.batches();
        },
        (err) => {
          // The API names the field ("targets.percent must be …"): show it where it belongs.
          const match = /^(?:targets\.|strategy\.(?:abort\.)?)?([A-Za-z]+)/.exec(err.message);
          const name = match && BATCH_FIELDS.includes(match[1]) ? match[1] : null;
          const refusal = t('batchForm.refused', { error: err.message });
          if (name && !form.querySelector('[data-field="' + name + '"]').hidden)
            showErrors(form, { [name]: refusal }, [name]);
          else formError.textContent = refusal;
        },
      )
      .finally(() => {
        submitButton.disabled = false;
      });
  }

  OtaConsole.batchForm = { toggle, reset, refreshFirmwareChoices, refreshSourceVersions };
})(window.OtaConsole);
