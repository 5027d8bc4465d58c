import { Rng } from '@fa/autograd';

/**
 * Generates the demo corpus: documents of very different lengths and kinds (one-line notes, weather reports,
 * fables, letters, recipes, counting rhymes and long chronicles), from small grammars and a seeded generator.
 * The text is written for this repository and dedicated to the public domain (CC0). `corpus/documents.txt` is
 * its output for seed 2024 (`pnpm --filter @fa/train-demo corpus` writes it again).
 */

const ANIMALS = ['fox', 'crow', 'hare', 'tortoise', 'lion', 'mouse', 'owl', 'goat', 'wolf', 'heron', 'ant', 'bee'];
const PLACES = ['river', 'meadow', 'old mill', 'orchard', 'hill', 'forest', 'market', 'well', 'bridge', 'barn'];
const TOWNS = ['Ashford', 'Brookvale', 'Cold Harbour', 'Dunmore', 'Eastwick', 'Fernhill', 'Glenrock', 'Highbury'];
const NAMES = ['Anna', 'Ben', 'Clara', 'David', 'Edith', 'Frank', 'Grace', 'Henry', 'Iris', 'James', 'Lena', 'Tom'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const SKIES = ['clear skies', 'light rain', 'heavy rain', 'fog in the morning', 'scattered clouds', 'snow', 'wind'];
const DIRECTIONS = ['north', 'south', 'east', 'west', 'north-east', 'south-west'];
const ADJECTIVES = ['clever', 'proud', 'hungry', 'patient', 'foolish', 'kind', 'greedy', 'quiet', 'brave', 'tired'];
const VERBS = ['met', 'followed', 'watched', 'helped', 'laughed at', 'called to', 'waited for', 'argued with'];
const WANTS = ['a piece of cheese', 'a warm place to sleep', 'the last apple', 'a drink of water', 'a song'];
const MORALS = [
  'Slow and steady wins the race.',
  'Do not count your chickens before they hatch.',
  'A friend in need is a friend indeed.',
  'Pride comes before a fall.',
  'Look before you leap.',
  'Little by little does the trick.',
  'It is easy to despise what you cannot get.',
];
const FOODS = ['bread', 'soup', 'pie', 'porridge', 'stew', 'cake', 'pancakes', 'jam'];
const INGREDIENTS = ['flour', 'butter', 'milk', 'eggs', 'sugar', 'salt', 'onions', 'carrots', 'apples', 'oats'];
const UNITS = ['cups of', 'spoons of', 'pinches of', 'handfuls of'];
const STEPS = [
  'Mix the dry things in a bowl.',
  'Stir in the milk slowly.',
  'Leave it to rest for an hour.',
  'Heat the pan until it is hot.',
  'Bake it in a warm oven.',
  'Let it cool before you eat it.',
  'Chop everything into small pieces.',
  'Boil the water with a little salt.',
];
const NUMBERS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
const EVENTS = [
  'the harvest was the best in living memory',
  'the river rose and covered the lower fields',
  'a travelling fair came through the town',
  'the old bridge was mended with new stone',
  'a hard winter kept everyone indoors',
  'the market moved from the square to the hill',
  'a new school was opened by the church',
  'the mill burned down and was built again',
];

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function note(rng: Rng): string {
  const forms = [
    () => `Remember to buy ${pick(rng, INGREDIENTS)} and ${pick(rng, INGREDIENTS)}.`,
    () => `${pick(rng, NAMES)} will come on ${pick(rng, DAYS)}.`,
    () => `The ${pick(rng, ANIMALS)} is back at the ${pick(rng, PLACES)}.`,
    () => `Meeting at the ${pick(rng, PLACES)} at ${1 + rng.int(12)} o'clock.`,
  ];
  return pick(rng, forms)();
}

function weather(rng: Rng): string {
  const town = pick(rng, TOWNS);
  const days = 1 + rng.int(5);
  const start = rng.int(7);
  const lines = [`Weather for ${town}.`];
  for (let d = 0; d < days; d++) {
    const high = 5 + rng.int(20);
    lines.push(
      `${DAYS[(start + d) % 7]}: ${pick(rng, SKIES)}, high of ${high}, low of ${high - 3 - rng.int(6)}. ` +
        `Wind from the ${pick(rng, DIRECTIONS)} at ${2 + rng.int(25)} miles an hour.`,
    );
  }
  return lines.join('\n');
}

function fable(rng: Rng): string {
  const a = pick(rng, ANIMALS);
  let b = pick(rng, ANIMALS);
  while (b === a) b = pick(rng, ANIMALS);
  const sentences = [
    `Once upon a time a ${pick(rng, ADJECTIVES)} ${a} lived near the ${pick(rng, PLACES)}.`,
    `One day the ${a} ${pick(rng, VERBS)} a ${pick(rng, ADJECTIVES)} ${b}.`,
    `The ${b} wanted ${pick(rng, WANTS)}.`,
  ];
  const middle = 1 + rng.int(8);
  for (let i = 0; i < middle; i++) {
    const [x, y] = rng.next() < 0.5 ? [a, b] : [b, a];
    sentences.push(
      pick(rng, [
        `The ${x} ${pick(rng, VERBS)} the ${y} all the way to the ${pick(rng, PLACES)}.`,
        `"I will give you ${pick(rng, WANTS)}," said the ${x}, "if you help me."`,
        `But the ${y} was ${pick(rng, ADJECTIVES)} and would not listen.`,
        `So the ${x} sat down and waited until evening.`,
        `At last the ${y} came back, ${pick(rng, ADJECTIVES)} and ashamed.`,
      ]),
    );
  }
  sentences.push(`Moral: ${pick(rng, MORALS)}`);
  return `The ${capitalize(a)} and the ${capitalize(b)}\n\n${sentences.join(' ')}`;
}

function letter(rng: Rng): string {
  const to = pick(rng, NAMES);
  const from = pick(rng, NAMES);
  const paragraphs = 1 + rng.int(4);
  const body: string[] = [];
  for (let p = 0; p < paragraphs; p++) {
    const sentences = 2 + rng.int(4);
    const parts: string[] = [];
    for (let s = 0; s < sentences; s++) {
      parts.push(
        pick(rng, [
          `We are all well here in ${pick(rng, TOWNS)}.`,
          `Last ${pick(rng, DAYS)} ${capitalize(pick(rng, EVENTS))}.`,
          `${pick(rng, NAMES)} sends you ${pick(rng, FOODS)} and her love.`,
          `The weather has been ${pick(rng, SKIES)} all week.`,
          `I saw a ${pick(rng, ANIMALS)} by the ${pick(rng, PLACES)} this morning.`,
          `Please write soon and tell me your news.`,
        ]),
      );
    }
    body.push(parts.join(' '));
  }
  return `Dear ${to},\n\n${body.join('\n\n')}\n\nYours truly,\n${from}`;
}

function recipe(rng: Rng): string {
  const food = pick(rng, FOODS);
  const lines = [`How to make ${pick(rng, ADJECTIVES)} ${food}`, '', 'You will need:'];
  const count = 2 + rng.int(5);
  for (let i = 0; i < count; i++) lines.push(`- ${NUMBERS[rng.int(4)]} ${pick(rng, UNITS)} ${pick(rng, INGREDIENTS)}`);
  lines.push('', 'Method:');
  const steps = 2 + rng.int(5);
  for (let i = 0; i < steps; i++) lines.push(`${i + 1}. ${pick(rng, STEPS)}`);
  return lines.join('\n');
}

function counting(rng: Rng): string {
  const animal = pick(rng, ANIMALS);
  const upTo = 3 + rng.int(10);
  const lines: string[] = [];
  for (let i = 0; i < upTo; i++) {
    lines.push(`${capitalize(NUMBERS[i]!)} little ${animal}${i === 0 ? '' : 's'} by the ${pick(rng, PLACES)},`);
  }
  lines.push(`and that is all of them, said the ${pick(rng, ANIMALS)}.`);
  return lines.join('\n');
}

function chronicle(rng: Rng): string {
  const town = pick(rng, TOWNS);
  const years = 4 + rng.int(14);
  let year = 1700 + rng.int(200);
  const paragraphs = [`A Chronicle of ${town}`];
  for (let i = 0; i < years; i++) {
    year += 1 + rng.int(6);
    paragraphs.push(
      `In the year ${year} ${pick(rng, EVENTS)}. ${pick(rng, NAMES)} wrote that ${pick(rng, EVENTS)}, ` +
        `and that the people of ${town} ${pick(rng, ['gave thanks', 'were afraid', 'worked hard', 'sang in the square'])}.`,
    );
  }
  return paragraphs.join('\n\n');
}

/** Kinds with their relative frequency: many short documents, a few very long ones. */
const KINDS: ReadonlyArray<readonly [(rng: Rng) => string, number]> = [
  [note, 6],
  [weather, 4],
  [fable, 5],
  [letter, 3],
  [recipe, 3],
  [counting, 2],
  [chronicle, 1],
];

/** Documents until their total reaches `targetChars` characters. */
export function generateCorpus(seed = 2024, targetChars = 240_000): string[] {
  const rng = new Rng(seed);
  const total = KINDS.reduce((s, [, w]) => s + w, 0);
  const documents: string[] = [];
  let chars = 0;
  while (chars < targetChars) {
    let r = rng.next() * total;
    let kind = KINDS[0]![0];
    for (const [make, weight] of KINDS) {
      if ((r -= weight) < 0) {
        kind = make;
        break;
      }
    }
    const doc = kind(rng);
    documents.push(doc);
    chars += doc.length;
  }
  return documents;
}
