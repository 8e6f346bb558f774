#!/usr/bin/env node
// Parse dutyd iCalendar feeds with ical.js 2.x (Mozilla's parser, used by Thunderbird).
//
// Usage: node tests/feeds/check_icaljs.mjs [--allow-empty] FILE_OR_DIR [...]
//   (run `npm ci` in tests/feeds first)
//
// A directory argument means every *.ics file directly inside it.
// For each file: ICAL.parse must succeed and yield one VCALENDAR; every VEVENT,
// read through ICAL.Event, has a uid, a summary, a DATE start (isDate) and an
// explicit DTEND whose endDate is a DATE exactly one day after the start; no
// uid occurs twice; at least one VEVENT unless --allow-empty. Any exception
// is a failure of that file.
// Prints "PATH: problem" per problem and "N passed, M failed" at the end.
// Exit status: 0 when every file passes, 1 when any fails, 2 on usage error.
//
// Keep this file within Node 18 features (Debian 12 ships node 18).

import fs from 'node:fs';
import path from 'node:path';
import ICAL from 'ical.js';

const MAX_REPORTS = 20;
const MAX_MSG = 200;

function usage() {
  process.stderr.write('usage: node check_icaljs.mjs [--allow-empty] FILE_OR_DIR [...]\n');
  return 2;
}

function short(msg) {
  const s = String(msg).replace(/\r/g, '\\r').replace(/\n/g, '\\n');
  return s.length <= MAX_MSG ? s : s.slice(0, MAX_MSG) + '...';
}

function collectPaths(args) {
  const out = [];
  for (const arg of args) {
    let isDir = false;
    try {
      isDir = fs.statSync(arg).isDirectory();
    } catch (e) {
      isDir = false; // reported when the file is read
    }
    if (isDir) {
      const names = fs.readdirSync(arg)
        .filter((n) => n.endsWith('.ics') && fs.statSync(path.join(arg, n)).isFile())
        .sort();
      if (names.length === 0) {
        out.push({ path: arg, error: 'directory contains no .ics files' });
      }
      for (const n of names) out.push({ path: path.join(arg, n), error: null });
    } else {
      out.push({ path: arg, error: null });
    }
  }
  return out;
}

// ical.js silently normalizes impossible dates (20271331 becomes 2028-01-31):
// compare the raw jCal value with the time ical.js made of it.
function checkNormalized(vevent, name, time, label, problems) {
  const prop = vevent.getFirstProperty(name);
  const raw = prop ? prop.toJSON()[3] : undefined;
  if (typeof raw === 'string' && raw !== time.toString()) {
    problems.push(`${label}: ${name.toUpperCase()} ${raw} is not a valid date (ical.js reads ${time.toString()})`);
    return false;
  }
  return true;
}

function checkEvent(vevent, idx, problems) {
  const event = new ICAL.Event(vevent);
  let label = `VEVENT #${idx}`;
  const uid = event.uid;
  if (typeof uid !== 'string' || uid.trim() === '') {
    problems.push(`${label}: missing or empty UID`);
  } else {
    label = `VEVENT #${idx} (UID ${uid})`;
  }
  const summary = event.summary;
  if (typeof summary !== 'string' || summary.trim() === '') {
    problems.push(`${label}: missing or empty SUMMARY`);
  }
  const start = event.startDate;
  if (!start) {
    problems.push(`${label}: missing DTSTART`);
  } else if (!start.isDate) {
    problems.push(`${label}: DTSTART ${start.toString()} is not a DATE (use VALUE=DATE)`);
  } else {
    checkNormalized(vevent, 'dtstart', start, label, problems);
  }
  if (!vevent.hasProperty('dtend')) {
    problems.push(`${label}: missing DTEND`);
  } else {
    const end = event.endDate;
    if (!end) {
      problems.push(`${label}: DTEND could not be read`);
    } else if (!end.isDate) {
      problems.push(`${label}: DTEND ${end.toString()} is not a DATE (use VALUE=DATE)`);
    } else if (!checkNormalized(vevent, 'dtend', end, label, problems)) {
      // reported
    } else if (start && start.isDate) {
      const expected = start.clone();
      expected.adjust(1, 0, 0, 0);
      if (expected.compare(end) !== 0) {
        problems.push(`${label}: DTEND ${end.toString()} is not DTSTART ${start.toString()} + 1 day`);
      }
    }
  }
  return typeof uid === 'string' && uid.trim() !== '' ? uid : null;
}

function checkFile(file, allowEmpty) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return [`cannot read: ${short(e.message)}`];
  }
  const problems = [];
  try {
    const jcal = ICAL.parse(text);
    // ICAL.parse returns one component, or an array of components when the
    // input holds several top-level components.
    if (!Array.isArray(jcal) || jcal.length === 0) {
      return ['ICAL.parse returned no component'];
    }
    if (Array.isArray(jcal[0])) {
      return [`expected one top-level component, found ${jcal.length}`];
    }
    const cal = new ICAL.Component(jcal);
    if (cal.name !== 'vcalendar') {
      return [`top-level component is ${cal.name}, not VCALENDAR`];
    }
    const vevents = cal.getAllSubcomponents('vevent');
    if (vevents.length === 0 && !allowEmpty) {
      problems.push('no VEVENT (use --allow-empty if that is expected)');
    }
    const seen = new Map();
    vevents.forEach((vevent, i) => {
      const idx = i + 1;
      try {
        const uid = checkEvent(vevent, idx, problems);
        if (uid !== null) {
          if (seen.has(uid)) {
            problems.push(`duplicate UID ${uid} (VEVENT #${seen.get(uid)} and #${idx})`);
          } else {
            seen.set(uid, idx);
          }
        }
      } catch (e) {
        problems.push(`VEVENT #${idx}: exception: ${short(e && e.stack ? e.message : e)}`);
      }
    });
  } catch (e) {
    problems.push(`exception: ${e && e.name ? e.name + ': ' : ''}${short(e && e.message !== undefined ? e.message : e)}`);
  }
  if (problems.length > MAX_REPORTS) {
    const extra = problems.length - MAX_REPORTS;
    return problems.slice(0, MAX_REPORTS).concat([`${extra} more problem(s) not shown`]);
  }
  return problems;
}

function main(argv) {
  let allowEmpty = false;
  const args = [];
  for (const a of argv) {
    if (a === '--allow-empty') allowEmpty = true;
    else if (a === '-h' || a === '--help') return usage();
    else if (a.startsWith('--')) {
      process.stderr.write(`unknown option ${a}\n`);
      return 2;
    } else args.push(a);
  }
  if (args.length === 0) return usage();
  let passed = 0;
  let failed = 0;
  for (const item of collectPaths(args)) {
    let problems;
    if (item.error) {
      problems = [item.error];
    } else {
      try {
        problems = checkFile(item.path, allowEmpty);
      } catch (e) {
        problems = [`exception: ${short(e && e.message !== undefined ? e.message : e)}`];
      }
    }
    if (problems.length > 0) {
      failed += 1;
      for (const p of problems) process.stdout.write(`${item.path}: ${p}\n`);
    } else {
      passed += 1;
    }
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
