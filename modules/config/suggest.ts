/**
 * "Did you mean": the candidate closest to a mistyped word, for error messages about keys, enum
 * values, stack names and command-line options.
 */

/** Optimal string alignment distance (Levenshtein with adjacent transpositions). */
export function editDistance(a: string, b: string): number {
    const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
        Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
    );
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
                d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[a.length][b.length];
}

/**
 * The candidate nearest to `word` (case-insensitive), if it is close enough to be a plausible typo:
 * at most a third of the word's length in edits, and at least one.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
    const w = word.toLowerCase();
    const limit = Math.max(1, Math.floor(w.length / 3));
    let best: { c: string; d: number } | undefined;
    for (const c of candidates) {
        const d = editDistance(w, c.toLowerCase());
        if (d <= limit && (best === undefined || d < best.d)) {
            best = { c, d };
        }
    }
    return best?.c;
}

/** ` (did you mean "x"?)` or the empty string. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
    const c = closest(word, candidates);
    return c === undefined ? "" : ` (did you mean "${c}"?)`;
}
