// ESLint flat config of the lint workload: our crochet-based rule, as `prettier/prettier`
// (so that both reports name the same rule).
import plugin from './prettier-rule.mjs';

export default [{ files: ['**/*.js'], plugins: { prettier: plugin }, rules: { 'prettier/prettier': 'error' } }];
