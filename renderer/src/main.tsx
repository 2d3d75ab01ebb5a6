import { render } from 'preact';
import { App } from './app.js';
import { ApiProvider, connectApi } from './api/provider.js';
import './styles.css';

const root = document.getElementById('app');
if (root) {
  render(
    <ApiProvider api={connectApi()}>
      <App />
    </ApiProvider>,
    root,
  );
}
