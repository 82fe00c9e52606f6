export const metadata = {
  title: 'MSS Platform',
  description: 'Reference frontend of the MSS Platform (smoke-test workload)',
};

const style = { fontFamily: 'system-ui, sans-serif', margin: '2rem auto', maxWidth: '48rem', lineHeight: 1.5 };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body style={style}>
        <nav><a href="/">Home</a> · <a href="/dashboard">Dashboard</a></nav>
        <main>{children}</main>
      </body>
    </html>
  );
}
