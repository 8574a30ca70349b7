#!/usr/bin/env node
'use strict';
require('../build/src/sim/cli.js').main(process.argv.slice(2));
