// ESLint flat config of the lint workload: eslint-plugin-prettier's rule (a synckit worker).
import plugin from 'eslint-plugin-prettier';

export default [{ files: ['**/*.js'], plugins: { prettier: plugin }, rules: { 'prettier/prettier': 'error' } }];
