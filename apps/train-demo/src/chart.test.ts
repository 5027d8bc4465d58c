import { describe, expect, it } from 'vitest';
import { niceTicks, renderChart } from './chart.js';

describe('the SVG chart', () => {
  it('picks round ticks', () => {
    expect(niceTicks(0, 300, 6)).toEqual([0, 50, 100, 150, 200, 250, 300]);
    expect(niceTicks(1.2, 4.3)).toEqual([2, 3, 4]);
    expect(niceTicks(1.2, 4.3, 8)).toEqual([1.5, 2, 2.5, 3, 3.5, 4]);
  });

  it('draws a line per series, dots for sparse ones, a dashed baseline and a legend, and escapes text', () => {
    const svg = renderChart({
      title: 'loss <&>',
      series: [
        {
          name: 'train',
          color: '#00f',
          points: [
            [1, 4],
            [2, 3],
            [3, 2.5],
          ],
        },
        {
          name: 'val',
          color: '#f00',
          dots: true,
          points: [
            [0, 4.2],
            [3, 2.6],
          ],
        },
      ],
      baselines: [{ name: 'unigram', value: 3.1, color: '#888' }],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline points="([^"]*)"/)?.[1]?.split(' ')).toHaveLength(3);
    expect(svg.match(/<circle /g)).toHaveLength(2);
    expect(svg).toContain('stroke-dasharray="6 4"');
    expect(svg).toContain('unigram (3.100)');
    expect(svg).toContain('loss &lt;&amp;&gt;');
  });
});
