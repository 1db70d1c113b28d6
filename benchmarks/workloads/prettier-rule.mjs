// An ESLint rule in the style of eslint-plugin-prettier's `prettier/prettier`, calling
// prettier through a crochet wrapper instead of a synckit worker: it formats the file as
// that plugin's worker does and reports the differences with the same messages, locations
// and fixes (prettier-linter-helpers, which that plugin uses too).
import { setup } from 'crochet';
import { generateDifferences, showInvisibles } from 'prettier-linter-helpers';
import { formatForLint } from './crochet-calls.mjs';

setup();
const { INSERT, DELETE, REPLACE } = generateDifferences;

export default {
  meta: { name: 'crochet-prettier' },
  rules: {
    prettier: {
      meta: {
        type: 'layout',
        fixable: 'code',
        messages: {
          [INSERT]: 'Insert `{{ insertText }}`',
          [DELETE]: 'Delete `{{ deleteText }}`',
          [REPLACE]: 'Replace `{{ deleteText }}` with `{{ insertText }}`',
        },
      },
      create(context) {
        const { sourceCode } = context;
        return {
          [sourceCode.ast.type]() {
            const source = sourceCode.text;
            const formatted = formatForLint(source, context.physicalFilename);
            if (formatted === undefined || formatted === source) return;
            for (const difference of generateDifferences(source, formatted)) {
              const { operation, offset } = difference;
              const insertText = difference.insertText ?? '';
              const deleteText = difference.deleteText ?? '';
              const range = [offset, offset + deleteText.length];
              const [start, end] = range.map((index) => sourceCode.getLocFromIndex(index));
              context.report({
                messageId: operation,
                data: { deleteText: showInvisibles(deleteText), insertText: showInvisibles(insertText) },
                loc: { start, end },
                fix: (fixer) => fixer.replaceTextRange(range, insertText),
              });
            }
          },
        };
      },
    },
  },
};
