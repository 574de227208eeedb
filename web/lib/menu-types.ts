/** One entry of a menu opened by a click (see ContextMenu.svelte). */
export interface MenuItem {
  label: string;
  /** Runs when chosen; the menu closes. */
  run?: () => void;
  disabled?: boolean;
  hint?: string;
  /** A second line under the label. */
  detail?: string;
  /** Marks the current choice (aria-checked on a menuitemradio). */
  checked?: boolean;
  /** A heading line (not an item). */
  heading?: boolean;
  /** Choosing the item shows these items instead (with a way back). */
  submenu?: MenuItem[];
}
