// The Firmware section: the fleet's catalog newest first, the upload form (one file as raw bytes,
// several as multipart) and the verification of a firmware on test devices.
(function (OtaConsole) {
  'use strict';
  const { t, OPEN_BATCH, formatBytes, formatTime, isoTime, splitList, isLabel, isName } = OtaConsole.format;
  const { labelRule, nameRule, verificationLabel, signMethodLabel } = OtaConsole.format;
  const { h, fill, button, nextId, field, setInvalid, showErrors, keepFocus, stateBadge } = OtaConsole.widgets;
  const { view, ui, loaders, ajax, fleetUrl, get, post, canWrite, act, singleFlight } = OtaConsole.api;

  singleFlight('firmware', () =>
    get('/firmware').then((rows) => {
      view.firmware = rows.slice().sort((a, b) => b.createdAt - a.createdAt);
      render();
      OtaConsole.batchForm.refreshFirmwareChoices();
      OtaConsole.batches.renderSummaries();
    }),
  );

  const upload = { files: [] };

  /** What the drop zone shows: the chosen file, or how many and how large together. */
  function describeFiles(files) {
    if (files.length === 0) return t('firmware.noFile');
    if (files.length === 1) return fileText(files[0].name, files[0].size);
    return t('firmware.files', {
      count: files.length,
      names: files.map((f) => f.name).join(', '),
      size: formatBytes(files.reduce((n, f) => n + f.size, 0)),
    });
  }

  /** A file and its size: "app.bin (1.5 KiB)". */
  function fileText(name, size) {
    return t('firmware.file', { name, size: formatBytes(size) });
  }

  function buildUploadForm() {
    const products = [...new Set(view.versions.map((v) => v.productKey))];
    const modules = [...new Set(['default', ...view.versions.map((v) => v.module)])];
    const productList = h(
      'datalist',
      { id: nextId('products') },
      products.map((p) => h('option', { value: p })),
    );
    const moduleList = h(
      'datalist',
      { id: nextId('modules') },
      modules.map((m) => h('option', { value: m })),
    );
    const fileInput = h('input', {
      type: 'file',
      name: 'file',
      multiple: true,
      class: 'ota-console-file',
      onchange: () => chooseFiles([...fileInput.files]),
    });
    const fileName = h('span', { class: 'ota-console-file-name', text: describeFiles(upload.files) });
    const drop = h(
      'div',
      { class: 'ota-console-drop' },
      h(
        'label',
        { class: 'ota-console-drop-label' },
        h('i', { class: 'fa fa-upload', 'aria-hidden': 'true' }),
        ' ' + t('firmware.drop') + ' ',
        fileInput,
      ),
      fileName,
    );
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('ota-console-drop-over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('ota-console-drop-over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('ota-console-drop-over');
      if (e.dataTransfer.files.length) chooseFiles([...e.dataTransfer.files]);
    });
    const form = h(
      'form',
      {
        class: 'ota-console-form',
        id: 'ota-console-upload',
        'aria-label': t('firmware.upload'),
        novalidate: true,
        onsubmit: submitUpload,
      },
      h('h4', { text: t('firmware.upload') }),
      field(
        t('firmware.productKey'),
        h('input', {
          type: 'text',
          name: 'productKey',
          list: productList.id,
          value: products.length === 1 ? products[0] : '',
          autocomplete: 'off',
        }),
      ),
      field(
        t('firmware.module'),
        h('input', { type: 'text', name: 'module', list: moduleList.id, value: 'default', autocomplete: 'off' }),
      ),
      field(
        t('firmware.version'),
        h('input', {
          type: 'text',
          name: 'version',
          placeholder: t('firmware.versionPlaceholder'),
          autocomplete: 'off',
        }),
      ),
      field(
        t('firmware.signMethod'),
        h(
          'select',
          { name: 'signMethod' },
          h('option', { value: 'Md5', text: 'MD5' }),
          h('option', { value: 'SHA256', text: 'SHA-256' }),
        ),
      ),
      field(
        t('firmware.srcVersion'),
        h('input', { type: 'text', name: 'srcVersion', autocomplete: 'off' }),
        t('firmware.srcVersionHint'),
      ),
      h(
        'div',
        { class: 'ota-console-field', 'data-field': 'file' },
        drop,
        h('div', { class: 'ota-console-invalid', role: 'alert' }),
      ),
      productList,
      moduleList,
      h(
        'div',
        { class: 'ota-console-buttons' },
        h('button', {
          type: 'submit',
          class: 'red-ui-button',
          text: t('firmware.uploadButton'),
          'data-action': 'upload',
        }),
        h('span', { class: 'ota-console-upload-status', role: 'status' }),
      ),
    );
    return form;

    function chooseFiles(files) {
      upload.files = files;
      fileName.textContent = describeFiles(files);
      setInvalid(form, 'file', '');
    }
  }

  /** The upload's metadata as the form gives it, and what is wrong with it (by field). */
  function readUploadForm(form) {
    const value = (name) => form.elements[name].value.trim();
    const meta = {
      productKey: value('productKey'),
      module: value('module') || 'default',
      version: value('version'),
      signMethod: value('signMethod'),
    };
    if (value('srcVersion')) meta.srcVersion = value('srcVersion');
    const errors = {};
    if (!isName(meta.productKey)) errors.productKey = t('firmware.invalid.productKey', { rule: nameRule() });
    if (!isLabel(meta.module)) errors.module = t('firmware.invalid.module', { rule: labelRule() });
    if (!isLabel(meta.version)) errors.version = t('firmware.invalid.version', { rule: labelRule() });
    if (meta.srcVersion && !isLabel(meta.srcVersion))
      errors.srcVersion = t('firmware.invalid.version', { rule: labelRule() });
    if (upload.files.length === 0) errors.file = t('firmware.invalid.noFile');
    else if (upload.files.length > 20) errors.file = t('firmware.invalid.tooManyFiles');
    return { meta, errors };
  }

  function submitUpload(event) {
    event.preventDefault();
    const form = event.target;
    const { meta, errors } = readUploadForm(form);
    if (!showErrors(form, errors, ['productKey', 'module', 'version', 'srcVersion', 'file'])) return;
    const status = form.querySelector('.ota-console-upload-status');
    const submit = form.querySelector('[type=submit]');
    submit.disabled = true;
    status.textContent = t('firmware.uploading');
    act(
      'actions.upload',
      { version: meta.version },
      ajax({
        url: fleetUrl('/firmware?' + $.param(meta)),
        method: 'POST',
        // One file goes as raw bytes; several as multipart/form-data, one part per file (the browser sets the boundary).
        data: upload.files.length === 1 ? upload.files[0] : multipartOf(upload.files),
        processData: false,
        contentType: upload.files.length === 1 ? 'application/octet-stream' : false,
        xhr: function () {
          const xhr = $.ajaxSettings.xhr();
          if (xhr.upload) {
            xhr.upload.addEventListener('progress', (e) => {
              if (e.lengthComputable)
                status.textContent = t('firmware.uploadingPercent', {
                  percent: Math.floor((100 * e.loaded) / e.total),
                });
            });
          }
          return xhr;
        },
      }),
      () => {
        upload.files = [];
        form.reset();
        loaders.firmware();
      },
    )
      .catch((err) => setInvalid(form, 'file', err.message))
      .finally(() => {
        submit.disabled = false;
        status.textContent = '';
      });
  }

  function multipartOf(files) {
    const body = new FormData();
    for (const file of files) body.append('file', file, file.name);
    return body;
  }

  function verificationBadge(fw) {
    const kind = {
      verified: 'SUCCEEDED',
      'not-required': 'SUCCEEDED',
      'verify-failed': 'FAILED',
      verifying: 'IN_PROGRESS',
      unverified: 'CONFIRM',
    }[fw.verification];
    return stateBadge(kind || 'QUEUED', verificationLabel(fw.verification));
  }

  function render() {
    const panel = ui.panels.firmware;
    if (!panel) return;
    const keepForm = panel.querySelector('#ota-console-upload');
    const list = h('ul', { class: 'ota-console-cards', 'aria-label': t('firmware.title') });
    for (const fw of view.firmware) list.append(card(fw));
    keepFocus(panel, () => {
      fill(panel, h('h3', { class: 'ota-console-title', text: t('firmware.title') }));
      if (canWrite()) panel.append(keepForm || buildUploadForm());
      panel.append(view.firmware.length ? list : h('p', { class: 'ota-console-empty', text: t('firmware.empty') }));
    });
  }

  function card(fw) {
    const verifyBatch = view.batches.find(
      (b) => b.firmwareId === fw.id && b.type === 'verify' && OPEN_BATCH.includes(b.state),
    );
    const item = h(
      'li',
      { class: 'ota-console-card', 'data-firmware-id': fw.id, 'data-version': fw.version },
      h(
        'div',
        { class: 'ota-console-card-head' },
        h('strong', { text: fw.version }),
        ' ',
        h('span', { class: 'ota-console-muted', text: fw.productKey + '/' + fw.module }),
        ' ',
        verificationBadge(fw),
      ),
      facts(fw),
    );
    if (verifyBatch) {
      item.append(
        h(
          'div',
          { class: 'ota-console-buttons' },
          button(t('firmware.verifyBatch', { id: verifyBatch.id }), () => OtaConsole.batches.open(verifyBatch.id), {
            'data-focus': 'fw-batch:' + fw.id,
          }),
        ),
      );
    } else if (canWrite() && (fw.verification === 'unverified' || fw.verification === 'verify-failed')) {
      item.append(verifyForm(fw));
    }
    return item;
  }

  function facts(fw) {
    const checked = [signMethodLabel(fw.signMethod)];
    if (fw.isDiff) checked.push(t('firmware.diffFrom', { version: fw.srcVersion }));
    checked.push(fw.hosted ? t('firmware.hosted') : t('firmware.external'));
    return h(
      'dl',
      { class: 'ota-console-facts' },
      h('dt', { text: t('firmware.release') }),
      h('dd', {
        'data-fact': 'sequence',
        title: t('firmware.releaseTitle', { productKey: fw.productKey, module: fw.module }),
        text: '#' + fw.sequence,
      }),
      h('dt', { text: t('firmware.size') }),
      h('dd', {
        'data-fact': 'size',
        'data-bytes': fw.size,
        text: t('firmware.sizeBytes', { size: formatBytes(fw.size), bytes: fw.size }),
      }),
      h('dt', { text: 'MD5' }),
      h('dd', { class: 'ota-console-mono', 'data-fact': 'md5', text: fw.md5 || '—' }),
      h('dt', { text: 'SHA-256' }),
      h('dd', { class: 'ota-console-mono', 'data-fact': 'sha256', text: fw.sha256 || '—' }),
      h('dt', { text: t('firmware.checkedWith') }),
      h('dd', { text: checked.join(' · ') }),
      h('dt', { text: t('firmware.added') }),
      h('dd', { title: isoTime(fw.createdAt), text: formatTime(fw.createdAt) }),
      ...(fw.files
        ? [
            h('dt', { text: t('firmware.fileCount', { count: fw.files.length }) }),
            h(
              'dd',
              { 'data-fact': 'files' },
              h(
                'ul',
                { class: 'ota-console-file-list' },
                fw.files.map((f) => h('li', { text: fileText(f.fileName, f.fileSize) })),
              ),
            ),
          ]
        : []),
    );
  }

  function verifyForm(fw) {
    const input = h('input', {
      type: 'text',
      name: 'devices',
      placeholder: t('firmware.devicesPlaceholder'),
      autocomplete: 'off',
    });
    const form = h(
      'form',
      {
        class: 'ota-console-verify',
        'aria-label': t('firmware.verifyLabel', { version: fw.version }),
        novalidate: true,
      },
      field(t('firmware.testDevices'), input),
      h(
        'div',
        { class: 'ota-console-buttons' },
        h('button', {
          type: 'submit',
          class: 'red-ui-button red-ui-button-small',
          text: t('firmware.startVerification'),
          'data-action': 'verify',
          'data-focus': 'verify:' + fw.id,
        }),
      ),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const devices = splitList(input.value);
      const errors = {};
      if (devices.length === 0 || devices.length > 10) errors.devices = t('firmware.invalid.testDevices');
      else if (devices.some((d) => !isName(d))) errors.devices = t('rules.deviceNames', { rule: nameRule() });
      if (!showErrors(form, errors, ['devices'])) return;
      act(
        'actions.verify',
        { version: fw.version },
        post('/batches', {
          firmwareId: fw.id,
          type: 'verify',
          targets: { selection: 'SPECIFIC', productKey: fw.productKey, devices },
        }),
        (batch) => {
          loaders.firmware();
          loaders.batches().then(() => OtaConsole.batches.open(batch.id));
        },
      ).catch((err) => setInvalid(form, 'devices', err.message));
    });
    return form;
  }

  OtaConsole.firmware = { render };
})(window.OtaConsole);
