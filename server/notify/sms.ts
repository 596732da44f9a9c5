/**
 * SMS bodies that fit in one message. An SMS is 140 bytes: 160 characters of the GSM 03.38
 * 7-bit alphabet, or only 70 as soon as one character is outside it (the whole message is
 * then sent as UCS-2), and the extension characters (such as the euro sign, brackets, the
 * pipe) take two septets each. A body longer than that is split into parts of 153 (GSM) that
 * the carrier bills one by one and may deliver out of order or not at all, so hawatch
 * transliterates every text to the GSM alphabet, counts septets exactly, and shortens with
 * the important facts first: state, host, service, the first words of the output.
 *
 * The GSM tables are written out here (GSM 03.38 / 3GPP TS 23.038, default alphabet and its
 * extension table): the npm counters (sms-segments-calculator, the best kept, serves as an
 * independent oracle in the tests) only count, none transliterates to GSM-7, and a general
 * Unicode-to-ASCII transliterator would throw away the accented letters GSM-7 does have.
 */

/** The GSM 03.38 default alphabet, positions 0x00 to 0x7F (0x1B, the escape, left out). */
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u0000ÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** The extension table: each is sent as escape + character, two septets. */
const GSM_EXTENSION = '\f^{}\\[~]|€';

const BASIC = new Set([...GSM_BASIC].filter((c) => c !== '\u0000'));
const EXTENSION = new Set([...GSM_EXTENSION]);

export const SMS_SINGLE_SEPTETS = 160;
/** Per part of a concatenated message: 7 septets go to the user data header. */
export const SMS_PART_SEPTETS = 153;

/** Septets a GSM-7 text takes; null when a character is not in GSM-7 (the carrier would send UCS-2). */
export function gsmSeptets(text: string): number | null {
  let n = 0;
  for (const c of text) {
    if (BASIC.has(c)) n += 1;
    else if (EXTENSION.has(c)) n += 2;
    else return null;
  }
  return n;
}

export function isGsm7(text: string): boolean {
  return gsmSeptets(text) !== null;
}

/** How many SMS parts a text needs, with its encoding (as the carrier would count). */
export function smsParts(text: string): { encoding: 'GSM-7' | 'UCS-2'; units: number; parts: number } {
  const septets = gsmSeptets(text);
  if (septets !== null) return { encoding: 'GSM-7', units: septets, parts: septets <= SMS_SINGLE_SEPTETS ? 1 : Math.ceil(septets / SMS_PART_SEPTETS) };
  // UCS-2 counts UTF-16 code units: 70 in one message, 67 per part.
  const units = text.length;
  return { encoding: 'UCS-2', units, parts: units <= 70 ? 1 : Math.ceil(units / 67) };
}

/** Replacements for characters outside GSM-7 that Unicode decomposition does not cover. */
const MAP: Readonly<Record<string, string>> = {
  '\u2018': "'", '\u2019': "'", '\u201A': "'", '\u201B': "'", '\u2032': "'", '`': "'", '\u00B4': "'", '\u2039': "'", '\u203A': "'",
  '\u201C': '"', '\u201D': '"', '\u201E': '"', '\u201F': '"', '\u2033': '"', '\u00AB': '"', '\u00BB': '"',
  '\u2010': '-', '\u2011': '-', '\u2012': '-', '\u2013': '-', '\u2014': '-', '\u2015': '-', '\u2212': '-',
  '\u2026': '...', '\u2022': '*', '\u00B7': '.', '\u00D7': 'x', '\u00F7': '/', '\u2044': '/',
  '\u2264': '<=', '\u2265': '>=', '\u2260': '!=', '\u00B1': '+/-', '\u2248': '~', '\u2192': '->', '\u2190': '<-', '\u21D2': '=>',
  '\u00B0': 'deg', '\u00B5': 'u', '\u2122': 'TM', '\u00A9': '(c)', '\u00AE': '(R)', '\u00A2': 'c',
  '\u0153': 'oe', '\u0152': 'OE', '\u0142': 'l', '\u0141': 'L', '\u0111': 'd', '\u0110': 'D', '\u00F0': 'd', '\u00D0': 'D',
  '\u00FE': 'th', '\u00DE': 'TH', '\u0131': 'i', '\u0138': 'k', '\u014B': 'n', '\u014A': 'N', '\u017F': 's', '\u00E7': 'c',
  '\u00A6': '|', '\t': ' ', '\u000B': ' ', '\u00A0': ' ', '\u2028': ' ', '\u2029': ' ',
  // Greek capitals that GSM-7 lacks but Latin has the same shape for.
  '\u0391': 'A', '\u0392': 'B', '\u0395': 'E', '\u0396': 'Z', '\u0397': 'H', '\u0399': 'I', '\u039A': 'K', '\u039C': 'M',
  '\u039D': 'N', '\u039F': 'O', '\u03A1': 'P', '\u03A4': 'T', '\u03A5': 'Y', '\u03A7': 'X',
};

/** Cyrillic, lower case (upper case is mapped through it), after the common Latin transcription. */
const CYRILLIC: Readonly<Record<string, string>> = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'i', к: 'k', л: 'l', м: 'm', н: 'n',
  о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'shch', ъ: '', ы: 'y',
  ь: '', э: 'e', ю: 'iu', я: 'ia', і: 'i', ї: 'i', є: 'ie', ґ: 'g', ў: 'u', ђ: 'dj', ј: 'j', љ: 'lj', њ: 'nj', ћ: 'c', џ: 'dz',
};

/** Dropped without a trace: emoji and their modifiers, joiners, variation selectors, lone combining marks. */
const DROP = /^(?:\p{Extended_Pictographic}|\p{Emoji_Modifier}|[\u{1F1E6}-\u{1F1FF}\u200B-\u200F\u2060\uFEFF\uFE00-\uFE0F\u{E0020}-\u{E007F}]|\p{M})$/u;

function one(c: string): string {
  if (BASIC.has(c) || EXTENSION.has(c)) return c;
  const mapped = MAP[c];
  if (mapped !== undefined) return mapped;
  if (DROP.test(c)) return '';
  const lower = c.toLowerCase();
  const cyr = CYRILLIC[lower];
  if (cyr !== undefined) return lower === c || cyr === '' ? cyr : cyr.charAt(0).toUpperCase() + cyr.slice(1);
  // Greek small letters: their capitals are in GSM-7 or in MAP (final sigma becomes Σ).
  if (/\p{Script=Greek}/u.test(c) && c !== c.toUpperCase()) {
    const up = c.toUpperCase().normalize('NFD').replace(/\p{M}/gu, '');
    if ([...up].every((u) => BASIC.has(u) || MAP[u] !== undefined)) return [...up].map((u) => (BASIC.has(u) ? u : (MAP[u] as string))).join('');
  }
  // Accented Latin (á, ç, ő, ...), ligatures, full-width and super/subscript forms.
  const base = c.normalize('NFKD').replace(/\p{M}/gu, '');
  if (base !== c && base !== '') {
    const parts = [...base].map((b) => (BASIC.has(b) || EXTENSION.has(b) ? b : MAP[b]));
    if (parts.every((p) => p !== undefined)) return parts.join('');
  }
  if (/\s/u.test(c)) return ' ';
  if (/\p{Cc}|\p{Cf}/u.test(c)) return '';
  return '?';
}

/** The text in the GSM-7 alphabet: accents dropped where GSM lacks them, emoji removed, the rest '?'. */
export function toGsm7(text: string): string {
  let out = '';
  for (const c of text) out += one(c);
  return out;
}

/** GSM-7, on one line, runs of blanks folded (an SMS has no room for layout). */
export function smsClean(text: string): string {
  return toGsm7(text.replace(/\s+/gu, ' ')).replace(/ {2,}/g, ' ').trim();
}

/** The longest prefix of a GSM-7 text within `max` septets. */
function prefixWithin(text: string, max: number): string {
  let n = 0;
  let i = 0;
  const chars = [...text];
  for (; i < chars.length; i++) {
    const w = EXTENSION.has(chars[i] as string) ? 2 : 1;
    if (n + w > max) break;
    n += w;
  }
  return chars.slice(0, i).join('');
}

const septets = (s: string): number => gsmSeptets(s) ?? Infinity;

/**
 * Cuts a GSM-7 text to `max` septets. With `words`, the cut falls at a word boundary when
 * one is near (so the first words stay whole); '..' marks that something was left out.
 */
export function fitSeptets(text: string, max: number, words = false): string {
  if (septets(text) <= max) return text;
  if (max <= 2) return prefixWithin(text, max);
  let cut = prefixWithin(text, max - 2);
  if (words) {
    const space = cut.lastIndexOf(' ');
    if (space > 0 && cut.length - space <= 15) cut = cut.slice(0, space);
  }
  return `${cut.replace(/[ ,;:-]+$/, '')}..`;
}

/** The septets a body may take: one message by default; `max_parts` concatenated parts if configured. */
export function smsBudget(maxLength: number, maxParts: number): number {
  const capacity = maxParts <= 1 ? SMS_SINGLE_SEPTETS : maxParts * SMS_PART_SEPTETS;
  return Math.min(maxLength, capacity);
}

export interface SmsFields {
  /** Most important first: state (with the notification type when not a plain problem). */
  readonly head: string;
  readonly host: string;
  readonly service: string | null;
  /** Who and why (acknowledgement comment), before the output when present. */
  readonly note: string | null;
  readonly output: string;
}

/**
 * Builds the body from the fields, most important first, within `max` septets: the head
 * always, then host, then service (each cut only if the ones before leave no room), then
 * the note and the first words of the output in what is left.
 */
export function composeSms(f: SmsFields, max: number): string {
  const head = fitSeptets(smsClean(f.head), max);
  let room = max - septets(head);
  const host = smsClean(f.host);
  const service = f.service === null ? null : smsClean(f.service);
  // Host and service share the room after the head, keeping at least a few characters of
  // the service when both must be cut: "db1/pgs.." says more than "db1-with-a-long-na..".
  let object = '';
  if (room > 1) {
    const full = service === null ? host : `${host}/${service}`;
    if (septets(full) + 1 <= room) object = full;
    else if (service === null) object = fitSeptets(host, room - 1);
    else {
      const hostRoom = Math.max(1, Math.min(septets(host), room - 1 - 1 - Math.min(septets(service), 8)));
      const h = fitSeptets(host, hostRoom);
      object = `${h}/${fitSeptets(service, room - 1 - septets(h) - 1)}`;
    }
  }
  let text = object ? `${head} ${object}` : head;
  room = max - septets(text);
  const tail = [f.note, f.output].map((x) => (x === null ? '' : smsClean(x))).filter(Boolean).join(': ');
  if (tail && room > 4) text += `: ${fitSeptets(tail, room - 2, true)}`;
  return text;
}
